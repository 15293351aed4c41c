//! Integration tests: the real server over real HTTP, on SQLite, or on
//! PostgreSQL when SMSTRAIL_TEST_POSTGRES_URL is set.

mod api;
mod browser;
mod cli;
mod durability;
mod helpers;
mod migrations;
mod ui_helpers;
mod verifications;
mod webhooks;
mod ui_admin;
mod ui_auth;
mod ui_pages;
