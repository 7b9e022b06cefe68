//! `server agent add | list | remove`, run as a person would run them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn server(db: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run server");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must fail, saying `needle` on stderr.
fn refused(db: &str, args: &[&str], stdin: &str, needle: &str) {
    let out = server(db, args, stdin);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(text(&out.stderr).contains(needle), "{args:?}: {}", text(&out.stderr));
}

#[test]
fn agents_are_added_listed_and_removed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("data/chat.db").display());

    let added = server(&db, &["agent", "add", "Zoe"], "zoe-password\n");
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(text(&added.stdout).contains("added agent Zoe"));
    assert!(server(&db, &["agent", "add", "amy"], "amy-password\n").status.success());
    let admin = server(&db, &["agent", "add", "--admin", "Ada"], "ada-password\n");
    assert!(text(&admin.stdout).contains("added admin Ada"), "{}", text(&admin.stderr));

    let listed = server(&db, &["agent", "list"], "");
    assert_eq!(text(&listed.stdout), "Ada\tadmin\namy\nZoe\n");

    refused(&db, &["agent", "add", "ZOE"], "another-password\n", "already exists");
    refused(&db, &["agent", "add", "bob"], "short\n", "at least 8");
    refused(&db, &["agent", "add", "bob"], "", "no password");
    refused(&db, &["agent", "add", "   "], "long-enough\n", "invalid name");

    let removed = server(&db, &["agent", "remove", "zoe"], "");
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    refused(&db, &["agent", "remove", "zoe"], "", "does not exist");

    assert_eq!(text(&server(&db, &["agent", "list"], "").stdout), "Ada\tadmin\namy\n");
}

#[test]
fn canned_replies_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let added = server(&db, &["canned", "add", "refund"], "Refunds take 3 to 5 working days.\n");
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert_eq!(
        text(&server(&db, &["canned", "list"], "").stdout),
        "/refund\tRefunds take 3 to 5 working days.\n"
    );
    refused(&db, &["canned", "add", "Bad Shortcut"], "x", "shortcut");
    refused(&db, &["canned", "add", "empty"], "  \n", "empty");
    assert!(server(&db, &["canned", "remove", "refund"], "").status.success());
    refused(&db, &["canned", "remove", "refund"], "", "does not exist");
}
