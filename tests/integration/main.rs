//! Integration tests: the real server over real HTTP, on SQLite, or on
//! PostgreSQL when SMSTRAIL_TEST_POSTGRES_URL is set.

mod api;
mod browser;
mod cli;
mod dashboard_rollups;
mod dashboards;
mod demo;
mod durability;
mod evidence;
mod faults;
mod helpers;
mod metrics;
mod migrations;
mod notify;
mod provider_plivo;
mod provider_telnyx;
mod provider_vonage;
mod reconcile;
mod retention;
mod review;
mod ui_admin;
mod ui_auth;
mod ui_helpers;
mod ui_notes;
mod ui_numbers;
mod ui_pages;
mod ui_sessions;
mod ui_users;
mod verifications;
mod webhooks;
mod write_path;
