//! Statements assembled at run time (filters, batches). sqlx's
//! `QueryBuilder<Any>` writes `?` placeholders, which PostgreSQL refuses;
//! this one writes `$n`, which both backends accept.

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};

use super::StoreError;

pub(super) struct Query<'q> {
    sql: String,
    args: AnyArguments<'q>,
    binds: usize,
    error: Option<sqlx::error::BoxDynError>,
}

impl<'q> Query<'q> {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: AnyArguments::default(),
            binds: 0,
            error: None,
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a `$n` placeholder bound to `value`.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        self.binds += 1;
        self.sql.push('$');
        self.sql.push_str(&self.binds.to_string());
        if let Err(error) = self.args.add(value)
            && self.error.is_none()
        {
            self.error = Some(error);
        }
        self
    }

    /// Appends `v1, v2, …` as placeholders, for an `IN (…)` list.
    pub fn bind_list<T, I>(&mut self, values: I) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
        I: IntoIterator<Item = T>,
    {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
        self
    }

    /// The SQL text and its arguments, or the first value that failed to encode.
    pub fn finish(self) -> Result<(String, AnyArguments<'q>), StoreError> {
        match self.error {
            Some(error) => Err(StoreError::Database(sqlx::Error::Encode(error))),
            None => Ok((self.sql, self.args)),
        }
    }
}
