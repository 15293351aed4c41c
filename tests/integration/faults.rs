//! Hardening against the world going wrong: file permissions, a database
//! that goes away, a full disk, slow clients.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::*;

#[tokio::test]
async fn the_sqlite_database_and_its_wal_are_private() {
    let app = TestApp::spawn().await;
    if app.db.is_postgres() {
        return;
    }
    // Write something so the WAL certainly exists.
    app.register_twilio("SM-private").await;
    let path = app.db.url.trim_start_matches("sqlite://").to_owned();
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file} is {mode:o}");
    }
}
