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

#[test]
fn agents_are_added_listed_and_removed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("data/chat.db").display());

    let added = server(&db, &["agent", "add", "Zoe"], "zoe-password\n");
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(text(&added.stdout).contains("added agent Zoe"));
    assert!(server(&db, &["agent", "add", "amy"], "amy-password\n").status.success());

    let listed = server(&db, &["agent", "list"], "");
    assert_eq!(text(&listed.stdout), "amy\nZoe\n");

    let duplicate = server(&db, &["agent", "add", "ZOE"], "another-password\n");
    assert!(!duplicate.status.success());
    assert!(text(&duplicate.stderr).contains("already exists"), "{}", text(&duplicate.stderr));

    let short = server(&db, &["agent", "add", "bob"], "short\n");
    assert!(!short.status.success());
    assert!(text(&short.stderr).contains("at least 8"), "{}", text(&short.stderr));

    let empty = server(&db, &["agent", "add", "bob"], "");
    assert!(!empty.status.success());
    assert!(text(&empty.stderr).contains("no password"), "{}", text(&empty.stderr));

    let bad_name = server(&db, &["agent", "add", "   "], "long-enough\n");
    assert!(!bad_name.status.success());
    assert!(text(&bad_name.stderr).contains("invalid name"), "{}", text(&bad_name.stderr));

    let removed = server(&db, &["agent", "remove", "zoe"], "");
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let missing = server(&db, &["agent", "remove", "zoe"], "");
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("does not exist"), "{}", text(&missing.stderr));

    assert_eq!(text(&server(&db, &["agent", "list"], "").stdout), "amy\n");
}
