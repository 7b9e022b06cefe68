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

/// At a terminal, `agent add` asks for the password twice and shows none of it as it is
/// typed (run under `script`, which gives it a terminal of its own); two that differ add
/// nobody.
#[test]
fn a_password_typed_at_a_terminal_is_not_shown_and_asked_twice() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let at_terminal = |typed: [&str; 2]| {
        let command = format!("{} agent add --admin Tia", env!("CARGO_BIN_EXE_server"));
        // `script` is in util-linux (Debian's bsdutils, an essential package).
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("DATABASE_URL", &db)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run script (util-linux)");
        let shown = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().expect("stdout");
        let reader = {
            let shown = shown.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    shown.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        let mut stdin = child.stdin.take().expect("stdin");
        // Typed once each prompt is there, as a person types. Each prompt is looked for after
        // the previous one, in everything shown so far (the second may come before this
        // thread looks: a search in only what came later would miss it).
        let mut from = 0;
        for (prompt, line) in [("Password for Tia: ", typed[0]), ("Again, to be sure: ", typed[1])]
        {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let out = text(&shown.lock().unwrap());
                if let Some(at) = out.get(from..).and_then(|rest| rest.find(prompt)) {
                    from += at + prompt.len();
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "no prompt {prompt:?}: {out}");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            // The prompt is written just before the terminal's echo is turned off: a person
            // types later than that, and so does this.
            std::thread::sleep(std::time::Duration::from_millis(300));
            stdin.write_all(format!("{line}\r").as_bytes()).expect("type");
            stdin.flush().expect("flush");
        }
        let status = child.wait().expect("wait");
        drop(stdin);
        reader.join().expect("reader");
        let out = text(&shown.lock().unwrap());
        (status, out)
    };
    let (status, out) = at_terminal(["tia-secret-1", "tia-secret-2"]);
    assert!(!status.success(), "{out}");
    assert!(out.contains("differ"), "{out}");
    assert_eq!(text(&server(&db, &["agent", "list"], "").stdout), "", "nobody added");
    let (status, out) = at_terminal(["tia-secret-1", "tia-secret-1"]);
    assert!(status.success(), "{out}");
    assert!(out.contains("added admin Tia"), "{out}");
    assert!(!out.contains("tia-secret"), "the password was shown: {out}");
}
