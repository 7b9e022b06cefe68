//! `sqlx::migrate!` embeds the migration files when the crate compiles, but cargo does not
//! know it read them: without this, a new migration is not built in until some source file
//! changes (as sqlx's documentation says).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations-postgres");
}
