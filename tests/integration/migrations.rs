//! The two migration folders must stay mirror images.

use std::collections::BTreeSet;
use std::path::Path;

fn names(folder: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn sqlite_and_postgres_migrations_have_the_same_versions_and_names() {
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
}

#[test]
fn sqlite_and_postgres_migrations_create_the_same_tables() {
    let tables = |folder: &str| -> BTreeSet<String> {
        names(folder)
            .iter()
            .flat_map(|name| {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(folder)
                    .join(name);
                let text = std::fs::read_to_string(path).unwrap();
                text.lines()
                    .filter_map(|line| line.trim().strip_prefix("CREATE TABLE "))
                    .map(|rest| {
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(tables("sqlite"), tables("postgres"));
}
