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

    /// Appends `VALUES (…), (…)`, one tuple per item, its fields bound by `row`.
    pub fn values<I, F>(&mut self, items: I, mut row: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(&mut Tuple<'_, 'q>, I::Item),
    {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            self.push(if i == 0 { "(" } else { "), (" });
            row(
                &mut Tuple {
                    query: self,
                    empty: true,
                },
                item,
            );
        }
        self.push(")")
    }

    /// The SQL text and its arguments, or the first value that failed to encode.
    pub fn finish(self) -> Result<(String, AnyArguments<'q>), StoreError> {
        match self.error {
            Some(error) => Err(StoreError::Database(sqlx::Error::Encode(error))),
            None => Ok((self.sql, self.args)),
        }
    }
}

/// The fields of one `VALUES` tuple.
pub(super) struct Tuple<'a, 'q> {
    query: &'a mut Query<'q>,
    empty: bool,
}

impl<'q> Tuple<'_, 'q> {
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        if !self.empty {
            self.query.push(", ");
        }
        self.empty = false;
        self.query.bind(value);
        self
    }
}
