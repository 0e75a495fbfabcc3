//! Secrets in command lines: `mysql -pSECRET`, `--password=...`, `token=...`,
//! `https://user:pass@host`, `Authorization: Bearer ...`. Replaced by `***` before anything
//! is shown or recorded (unless `--no-redact`).
//!
//! [`FORMS`] lists every form that is masked, with an example. Arguments that are command lines
//! themselves (the string after `sh -c`, `su -c`, `env -S`, and any argument with whitespace in
//! it, such as ssh's remote command) are split into words as a shell would (quotes, escapes,
//! `;`, `&&`, `||`, `|`, `&`, newlines, parentheses, backquotes), each command in them is
//! redacted like a command line of its own, and the string is put back together with every byte
//! that is not a secret kept as it was. Commands run by `sudo`, `env`, `nice`, `timeout`,
//! `xargs`... ([`RUNNERS`]) are redacted as command lines of their own too, so that `-p` is
//! judged by the program it is given to. Shell strings in shell strings are followed
//! [`MAX_DEPTH`] levels deep.

use std::ops::Range;

const MASK: &str = "***";

/// How deep shell strings nest (`bash -c "sudo sh -c '...'"`) before a deeper one is only
/// scanned as one word.
pub const MAX_DEPTH: usize = 8;

/// How a form finds its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// An option named by a secret key (see [`is_secret_key`]): the next argument is the secret
    /// (`--password X`, `-password X`). Not for `--no-...` flags.
    NextArgument,
    /// `KEY=VALUE` at the start of an argument, KEY a secret key (an option, a Java property, an
    /// environment variable): all of VALUE.
    Attached,
    /// `KEY=VALUE` inside an argument (URL queries, `--opt=token=...`): VALUE up to `&`, `;`,
    /// `,` or a space.
    Parameter,
    /// `scheme://user:PASSWORD@host`: the password.
    UrlUserinfo,
    /// `NAME: VALUE` for `Authorization`, `Proxy-Authorization`, `Cookie` and names that are
    /// secret keys (`X-Api-Key`): the value, after a known authorization scheme (`Bearer`...).
    /// Also when the header is split over words (`Authorization:` `Bearer` `X`).
    Header,
    /// An option that is a secret only for some programs (`-p` is a password for mysql, a port
    /// for ssh).
    Program(ProgramOption),
}

/// Options of some programs whose value is a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramOption {
    /// Program names (the last path component); a trailing `*` matches any ending.
    pub programs: &'static [&'static str],
    /// The options (`-p`, `--user`).
    pub options: &'static [&'static str],
    pub value: Value,
}

/// Where the value of a program's option is, and what of it is secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// Attached only: `-pVALUE` (`-p` alone asks for the password).
    Attached,
    /// The next argument only: `-a VALUE`.
    Separate,
    /// `-pVALUE` or `-p VALUE`.
    Either,
    /// `user:password`, attached or not (`-u admin:pw`, `--user=admin:pw`): the user is kept.
    UserPassword,
}

const fn program(
    programs: &'static [&'static str],
    options: &'static [&'static str],
    value: Value,
) -> Rule {
    Rule::Program(ProgramOption {
        programs,
        options,
        value,
    })
}

/// One form of secret on a command line.
#[derive(Debug, Clone, Copy)]
pub struct Form {
    pub name: &'static str,
    pub rule: Rule,
    /// A command line with the secret `hunter2` in this form...
    pub example: &'static [&'static str],
    /// ...and what redaction makes of it.
    pub masked: &'static [&'static str],
}

/// Every form of secret that is masked.
#[rustfmt::skip]
pub const FORMS: &[Form] = &[
    Form {
        name: "option, secret in the next argument",
        rule: Rule::NextArgument,
        example: &["app", "--password", "hunter2", "--port", "80"],
        masked: &["app", "--password", "***", "--port", "80"],
    },
    Form {
        name: "single-dash option, secret in the next argument",
        rule: Rule::NextArgument,
        example: &["keytool", "-list", "-storepass", "hunter2", "-password", "hunter2", "-v"],
        masked: &["keytool", "-list", "-storepass", "***", "-password", "***", "-v"],
    },
    Form {
        name: "passphrase option",
        rule: Rule::NextArgument,
        example: &["gpg", "--batch", "--passphrase", "hunter2", "-d", "f.gpg"],
        masked: &["gpg", "--batch", "--passphrase", "***", "-d", "f.gpg"],
    },
    Form {
        name: "secret key option",
        rule: Rule::NextArgument,
        example: &["app", "--aws-secret-access-key", "hunter2", "--region", "eu-west-1"],
        masked: &["app", "--aws-secret-access-key", "***", "--region", "eu-west-1"],
    },
    Form {
        name: "option with an attached value",
        rule: Rule::Attached,
        example: &["app", "--secret_key=hunter2", "--db-password=hunter2", "-v"],
        masked: &["app", "--secret_key=***", "--db-password=***", "-v"],
    },
    Form {
        name: "Java system property",
        rule: Rule::Attached,
        example: &["java", "-Djavax.net.ssl.keyStorePassword=hunter2", "-Doauth.clientSecret=hunter2",
                   "-Dfile.encoding=UTF-8", "-jar", "app.jar"],
        masked: &["java", "-Djavax.net.ssl.keyStorePassword=***", "-Doauth.clientSecret=***",
                  "-Dfile.encoding=UTF-8", "-jar", "app.jar"],
    },
    Form {
        name: "environment assignment",
        rule: Rule::Attached,
        example: &["env", "PGPASSWORD=hunter2", "AWS_SECRET_ACCESS_KEY=hunter2", "GITHUB_TOKEN=hunter2",
                   "LANG=C", "psql", "-h", "db"],
        masked: &["env", "PGPASSWORD=***", "AWS_SECRET_ACCESS_KEY=***", "GITHUB_TOKEN=***",
                  "LANG=C", "psql", "-h", "db"],
    },
    Form {
        name: "query parameter",
        rule: Rule::Parameter,
        example: &["curl", "https://api.example/v1?user=me&access_token=hunter2&page=2"],
        masked: &["curl", "https://api.example/v1?user=me&access_token=***&page=2"],
    },
    Form {
        name: "URL credentials",
        rule: Rule::UrlUserinfo,
        example: &["git", "clone", "https://alice:hunter2@git.example/repo.git"],
        masked: &["git", "clone", "https://alice:***@git.example/repo.git"],
    },
    Form {
        name: "Authorization header",
        rule: Rule::Header,
        example: &["curl", "-H", "Authorization: Bearer hunter2",
                   "--header=Proxy-Authorization: Basic hunter2", "https://a.example"],
        masked: &["curl", "-H", "Authorization: Bearer ***",
                  "--header=Proxy-Authorization: Basic ***", "https://a.example"],
    },
    Form {
        name: "Authorization token header",
        rule: Rule::Header,
        example: &["curl", "-H", "Authorization: token hunter2", "https://a.example"],
        masked: &["curl", "-H", "Authorization: token ***", "https://a.example"],
    },
    Form {
        name: "secret header",
        rule: Rule::Header,
        example: &["curl", "-H", "X-Api-Key: hunter2", "-H", "Cookie: sid=hunter2", "https://a.example"],
        masked: &["curl", "-H", "X-Api-Key: ***", "-H", "Cookie: ***", "https://a.example"],
    },
    Form {
        name: "header split over words",
        rule: Rule::Header,
        example: &["curl", "-H", "Authorization:", "Basic", "hunter2", "https://a.example"],
        masked: &["curl", "-H", "Authorization:", "Basic", "***", "https://a.example"],
    },
    Form {
        name: "MySQL and MariaDB -pPASSWORD",
        rule: program(&["mysql*", "mariadb*"], &["-p"], Value::Attached),
        example: &["mysqldump", "-uroot", "-phunter2", "-p", "db"],
        masked: &["mysqldump", "-uroot", "-p***", "-p", "db"],
    },
    Form {
        name: "MongoDB tools -p PASSWORD",
        rule: program(&["mongo*"], &["-p"], Value::Separate),
        example: &["mongodump", "-u", "backup", "-p", "hunter2", "--db", "app"],
        masked: &["mongodump", "-u", "backup", "-p", "***", "--db", "app"],
    },
    Form {
        name: "redis-cli -a PASSWORD",
        rule: program(&["redis-cli"], &["-a"], Value::Separate),
        example: &["redis-cli", "-h", "cache", "-a", "hunter2", "ping"],
        masked: &["redis-cli", "-h", "cache", "-a", "***", "ping"],
    },
    Form {
        name: "sshpass -p PASSWORD",
        rule: program(&["sshpass"], &["-p"], Value::Either),
        example: &["sshpass", "-p", "hunter2", "ssh", "-p", "2222", "backup@host"],
        masked: &["sshpass", "-p", "***", "ssh", "-p", "2222", "backup@host"],
    },
    Form {
        name: "LDAP tools -w PASSWORD",
        rule: program(&["ldap*"], &["-w"], Value::Separate),
        example: &["ldapsearch", "-x", "-D", "cn=admin", "-w", "hunter2", "-b", "dc=example"],
        masked: &["ldapsearch", "-x", "-D", "cn=admin", "-w", "***", "-b", "dc=example"],
    },
    Form {
        name: "curl user:password",
        rule: program(&["curl"], &["-u", "--user", "-U", "--proxy-user", "-E", "--cert"], Value::UserPassword),
        example: &["curl", "-u", "admin:hunter2", "--proxy-user=proxy:hunter2", "-E", "client.pem:hunter2",
                   "https://a.example"],
        masked: &["curl", "-u", "admin:***", "--proxy-user=proxy:***", "-E", "client.pem:***",
                  "https://a.example"],
    },
];

/// The last word of a secret key ends with one of these: `password`, `PGPASSWORD`,
/// `keyStorePassword`, `client_secret`, `GITHUB_TOKEN`, `-storepass`...
const SECRET_ENDINGS: [&str; 10] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "secretkey",
    "privatekey",
    "storepass",
    "keypass",
];

/// ...or is one of these: `--pass`, `MYSQL_PWD`, `-pw`...
const SECRET_WORDS: [&str; 3] = ["pass", "pwd", "pw"];

/// ...or is `key` after one of these: `api_key`, `X-Api-Key`, `secret_key`, `privateKey`,
/// `--account-key` (and `secret access key`).
const KEY_QUALIFIERS: [&str; 7] = [
    "api",
    "secret",
    "private",
    "encryption",
    "signing",
    "master",
    "account",
];

/// Authorization schemes, kept in front of the credentials they introduce.
const AUTH_SCHEMES: [&str; 8] = [
    "basic",
    "bearer",
    "token",
    "digest",
    "negotiate",
    "ntlm",
    "ssws",
    "aws4-hmac-sha256",
];

/// Programs that take a command line after `-c`.
const SHELLS: [&str; 12] = [
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "fish", "csh", "tcsh", "rbash",
];

/// Reserved words and grouping that can come before a command in a shell string.
const KEYWORDS: [&str; 13] = [
    "!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "#",
];

/// A program that runs a command given in its arguments.
#[derive(Debug)]
pub struct Runner {
    pub names: &'static [&'static str],
    /// Options that take the next argument as their value.
    pub valued: &'static [&'static str],
    /// Options whose value is a command line (`su -c CMD`, `env -S CMD`).
    pub command_options: &'static [&'static str],
    /// Operands before the command: `timeout DURATION`, `chroot DIR`, `flock FILE`.
    pub operands: usize,
    /// `NAME=VALUE` words may come before the command (`env`, `sudo`).
    pub assignments: bool,
    /// Whether the arguments after its options are a command (not for `su`, whose are the
    /// user and arguments for the shell), besides those after `--`.
    pub runs_command: bool,
}

const fn runner(names: &'static [&'static str], valued: &'static [&'static str]) -> Runner {
    Runner {
        names,
        valued,
        command_options: &[],
        operands: 0,
        assignments: false,
        runs_command: true,
    }
}

/// Programs that run another command: it is redacted as a command line of its own.
#[rustfmt::skip]
pub const RUNNERS: &[Runner] = &[
    Runner {
        assignments: true,
        ..runner(&["sudo"], &["-u", "-g", "-C", "-D", "-p", "-r", "-t", "-U", "-T", "-R", "--user",
            "--group", "--close-from", "--chdir", "--prompt", "--role", "--type", "--other-user",
            "--command-timeout", "--chroot", "--host"])
    },
    runner(&["doas"], &["-u", "-C"]),
    runner(&["pkexec"], &["--user"]),
    Runner {
        command_options: &["-S", "--split-string"],
        assignments: true,
        ..runner(&["env"], &["-u", "--unset", "-C", "--chdir"])
    },
    Runner {
        command_options: &["-c", "--command", "--session-command"],
        runs_command: false,
        ..runner(&["su", "runuser"], &["-s", "--shell", "-g", "--group", "-G", "--supp-group", "-w",
            "--whitelist-environment", "-u", "--user"])
    },
    Runner {
        command_options: &["-c", "--command"],
        operands: 1,
        ..runner(&["flock"], &["-w", "--wait", "--timeout", "-E", "--conflict-exit-code"])
    },
    runner(&["nice"], &["-n", "--adjustment"]),
    runner(&["ionice"], &["-c", "--class", "-n", "--classdata"]),
    runner(&["nohup", "setsid", "command", "builtin", "busybox", "unshare"], &[]),
    runner(&["exec"], &["-a"]),
    runner(&["time"], &["-f", "--format", "-o", "--output"]),
    Runner { operands: 1, ..runner(&["timeout"], &["-s", "--signal", "-k", "--kill-after"]) },
    Runner { operands: 1, ..runner(&["chrt", "taskset"], &[]) },
    Runner { operands: 1, ..runner(&["chroot"], &["--userspec", "--groups"]) },
    runner(&["stdbuf"], &["-i", "-o", "-e"]),
    runner(&["xargs"], &["-a", "--arg-file", "-d", "--delimiter", "-E", "-I", "-L", "-n", "--max-args",
        "-P", "--max-procs", "-s", "--max-chars"]),
    runner(&["watch"], &["-n", "--interval"]),
    runner(&["strace"], &["-e", "-o", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-P", "-S", "-X"]),
    runner(&["nsenter"], &["-t", "--target", "-S", "--setuid", "-G", "--setgid"]),
    runner(&["systemd-run"], &["-u", "--unit", "-p", "--property", "-E", "--setenv", "-M", "--machine",
        "-H", "--host", "--description", "--slice", "--uid", "--gid", "--working-directory", "--nice"]),
    runner(&["sshpass"], &["-p", "-f", "-d", "-P"]),
];

/// The words of a key: split at anything but letters and digits and where camelCase changes
/// case (`keyStorePassword`, `APIKey`), in lower case.
fn key_words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if c.is_uppercase() && !word.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_lower) {
                words.push(std::mem::take(&mut word));
            }
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether an option, parameter, property, variable or header name names a secret. Case does
/// not matter, words may be separated by `-`, `_`, `.` or camelCase.
pub fn is_secret_key(key: &str) -> bool {
    // The working directory, not a password.
    if matches!(key.trim_start_matches('-'), "PWD" | "OLDPWD") {
        return false;
    }
    let words = key_words(key);
    let Some(last) = words.last() else {
        return false;
    };
    let before = |n: usize| words.len().checked_sub(n + 1).map(|i| words[i].as_str());
    SECRET_ENDINGS.iter().any(|e| last.ends_with(e))
        || SECRET_WORDS.contains(&last.as_str())
        || (last == "key"
            && (before(1).is_some_and(|w| KEY_QUALIFIERS.contains(&w))
                || (before(1) == Some("access") && before(2) == Some("secret"))))
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn is_scheme(word: &str) -> bool {
    AUTH_SCHEMES.contains(&word.to_ascii_lowercase().as_str())
}

/// `NAME=...` as a shell variable assignment.
fn is_assignment(word: &str) -> bool {
    let Some(eq) = word.find('=') else {
        return false;
    };
    let name = word[..eq].strip_suffix('+').unwrap_or(&word[..eq]);
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The name a program is known by: the last path component, without the `-` of login shells.
fn program_name(word: &str) -> &str {
    let base = word.rsplit('/').next().unwrap_or(word);
    base.strip_prefix('-').unwrap_or(base)
}

fn program_matches(program: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => program.starts_with(prefix),
        None => program == pattern,
    }
}

/// A replacement of part of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edit {
    range: Range<usize>,
    with: String,
}

fn mask(range: Range<usize>) -> Edit {
    Edit {
        range,
        with: MASK.to_string(),
    }
}

/// `range` masked, unless empty.
fn mask_nonempty(range: Range<usize>) -> Vec<Edit> {
    if range.is_empty() {
        Vec::new()
    } else {
        vec![mask(range)]
    }
}

fn shifted(edits: Vec<Edit>, by: usize) -> Vec<Edit> {
    edits
        .into_iter()
        .map(|e| Edit {
            range: e.range.start + by..e.range.end + by,
            with: e.with,
        })
        .collect()
}

/// `text` with its edits made (overlapping ones merged).
fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    if edits.is_empty() {
        return text.to_string();
    }
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut merged: Vec<Edit> = Vec::with_capacity(edits.len());
    for edit in edits {
        match merged.last_mut() {
            Some(last)
                if edit.range.start < last.range.end
                    || (edit.range.start == last.range.end
                        && edit.with == MASK
                        && last.with == MASK) =>
            {
                if edit.range.end > last.range.end {
                    last.range.end = edit.range.end;
                    last.with = edit.with;
                }
            }
            _ => merged.push(edit),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for edit in merged {
        out.push_str(&text[at..edit.range.start]);
        out.push_str(&edit.with);
        at = edit.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// What the previous word says about the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// It is a secret.
    Whole,
    /// It is `user:secret`.
    AfterColon,
    /// It is an authorization scheme followed by the secret, or the secret itself.
    Scheme,
}

/// `KEY=VALUE` pairs anywhere in a word (URL queries too): secret values up to `&`, `;`, `,`
/// or a space.
fn parameters(word: &str) -> Vec<Edit> {
    let mut edits = Vec::new();
    let mut from = 0;
    while let Some(eq) = word[from..].find('=').map(|i| from + i) {
        let key_start = word[..eq]
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_key_char(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let value = eq + 1;
        let end = word[value..]
            .find(['&', ';', ' ', ','])
            .map_or(word.len(), |i| value + i);
        if end > value && is_secret_key(&word[key_start..eq]) {
            edits.push(mask(value..end));
            from = end;
        } else {
            // Not a secret: keep scanning inside the value (`--opt=token=abc`).
            from = value;
        }
    }
    edits
}

/// The passwords of `scheme://user:password@host` in a word.
fn url_userinfo(word: &str) -> Vec<Edit> {
    let mut edits = Vec::new();
    let mut from = 0;
    while let Some(p) = word[from..].find("://") {
        let start = from + p + 3;
        let end = word[start..]
            .find(['/', '?', '#'])
            .map_or(word.len(), |i| start + i);
        let authority = &word[start..end];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                edits.extend(mask_nonempty(start + colon + 1..start + at));
            }
        }
        from = start;
    }
    edits
}

/// A header `NAME: VALUE` whose value is a secret, at the start of `word`.
fn header(word: &str) -> Option<(Vec<Edit>, Option<Pending>)> {
    // The name: letters, digits, `-` and `_` up to the colon.
    let colon = word.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))?;
    if colon == 0 || !word[colon..].starts_with(':') {
        return None;
    }
    let name = &word[..colon];
    let lower = name.to_ascii_lowercase();
    let authorization = lower.ends_with("authorization");
    if !(authorization || lower.ends_with("cookie") || is_secret_key(name)) {
        return None;
    }
    let blank = |s: &str| s.len() - s.trim_start_matches([' ', '\t']).len();
    let value_start = colon + 1 + blank(&word[colon + 1..]);
    let value = &word[value_start..];
    if value.is_empty() {
        // `Authorization:` `Bearer` `X`, or `X-Api-Key:` `X`: the value is in the next words.
        let next = if authorization {
            Pending::Scheme
        } else {
            Pending::Whole
        };
        return Some((Vec::new(), word.ends_with(':').then_some(next)));
    }
    if authorization {
        let scheme_end = value.find([' ', '\t']).unwrap_or(value.len());
        if is_scheme(&value[..scheme_end]) {
            if scheme_end == value.len() {
                // `Authorization:Basic` `X`
                return Some((Vec::new(), Some(Pending::Whole)));
            }
            let credentials = value_start + scheme_end + blank(&value[scheme_end..]);
            return Some((mask_nonempty(credentials..word.len()), None));
        }
    }
    Some((mask_nonempty(value_start..word.len()), None))
}

/// `--password`, `-storepass`: an option whose value is the next argument.
fn secret_option(word: &str) -> bool {
    let key = word.trim_start_matches('-');
    word.starts_with('-')
        && !key.is_empty()
        && key.chars().all(is_key_char)
        && key_words(key).first().is_none_or(|w| w != "no")
        && is_secret_key(key)
}

/// The edits of one word that is not the program, and what it says about the next word.
fn word_edits(word: &str, depth: usize) -> (Vec<Edit>, Option<Pending>) {
    // Strip `--opt=` prefixes that are not secrets: `--header=Authorization: ...`,
    // `--opt=token=abc`, `X=Y=...`.
    let mut at = 0;
    loop {
        let rest = &word[at..];
        if let Some((edits, pending)) = header(rest) {
            return (shifted(edits, at), pending);
        }
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim_start_matches('-');
        if key.is_empty() || !key.chars().all(is_key_char) {
            break;
        }
        if is_secret_key(key) {
            return (mask_nonempty(at + eq + 1..word.len()), None);
        }
        at += eq + 1;
    }
    let rest = &word[at..];
    // A command line in one argument (ssh's remote command, a query, a header value).
    if depth < MAX_DEPTH && rest.contains([' ', '\t', '\n']) {
        return (shifted(shell_edits(rest, depth), at), None);
    }
    let mut edits = parameters(rest);
    edits.extend(url_userinfo(rest));
    (shifted(edits, at), None)
}

/// The edits of the word a pending judgement applies to, and what it says about the next.
fn pending_edits(pending: Pending, word: &str) -> (Vec<Edit>, Option<Pending>) {
    match pending {
        Pending::Whole => (mask_nonempty(0..word.len()), None),
        Pending::AfterColon => match word.find(':') {
            Some(colon) => (mask_nonempty(colon + 1..word.len()), None),
            None => (Vec::new(), None),
        },
        Pending::Scheme if is_scheme(word) => (Vec::new(), Some(Pending::Whole)),
        Pending::Scheme => (mask_nonempty(0..word.len()), None),
    }
}

/// An option of `program` from the table whose value is a secret.
fn program_option(program: &str, word: &str) -> Option<(Vec<Edit>, Option<Pending>)> {
    for form in FORMS {
        let Rule::Program(rule) = form.rule else {
            continue;
        };
        if !rule.programs.iter().any(|p| program_matches(program, p)) {
            continue;
        }
        let (attached, separate) = match rule.value {
            Value::Attached => (true, false),
            Value::Separate => (false, true),
            Value::Either | Value::UserPassword => (true, true),
        };
        let pending = if rule.value == Value::UserPassword {
            Pending::AfterColon
        } else {
            Pending::Whole
        };
        for option in rule.options {
            if word == *option {
                if separate {
                    return Some((Vec::new(), Some(pending)));
                }
                continue;
            }
            let Some(value) = word.strip_prefix(option) else {
                continue;
            };
            let value_start = if option.starts_with("--") {
                if !value.starts_with('=') {
                    continue;
                }
                option.len() + 1
            } else {
                option.len()
            };
            if attached {
                let (edits, _) = pending_edits(pending, &word[value_start..]);
                return Some((shifted(edits, value_start), None));
            }
        }
    }
    None
}

/// Redacts the arguments `words[i]` (`i` in `indices`, in order) of `program`.
fn scan_args(
    program: &str,
    words: &[&str],
    indices: impl Iterator<Item = usize>,
    depth: usize,
    edits: &mut [Vec<Edit>],
) {
    let mut pending = None;
    for i in indices {
        let word = words[i];
        let (found, next) = if let Some(p) = pending.take() {
            pending_edits(p, word)
        } else if let Some(found) = program_option(program, word) {
            found
        } else if secret_option(word) {
            (Vec::new(), Some(Pending::Whole))
        } else {
            word_edits(word, depth)
        };
        edits[i] = found;
        pending = next;
    }
}

/// The edits of each word of one command: programs to run (after `NAME=VALUE` assignments if
/// `assignments`), then its arguments.
fn scan_command(words: &[&str], depth: usize, assignments: bool) -> Vec<Vec<Edit>> {
    let mut edits = vec![Vec::new(); words.len()];
    let mut i = 0;
    if assignments {
        while i < words.len() && is_assignment(words[i]) {
            edits[i] = word_edits(words[i], depth).0;
            i += 1;
        }
    }
    if i < words.len() {
        command(words, i, depth, &mut edits);
    }
    edits
}

/// Redacts `words[at..]`, a program and its arguments.
fn command(words: &[&str], mut at: usize, depth: usize, edits: &mut [Vec<Edit>]) {
    // A runner's command is taken in turn, in this loop: `nice nohup sudo mysql -pX`.
    loop {
        // Judged on the redacted program name, so that redacting twice changes nothing.
        let mut own = parameters(words[at]);
        own.extend(url_userinfo(words[at]));
        if depth < MAX_DEPTH && words[at].contains([' ', '\t', '\n']) {
            // A process that wrote its command line over its argv[0] (`setproctitle`).
            own.extend(shell_edits(words[at], depth));
        }
        let name = apply(words[at], own.clone());
        edits[at] = own;
        let program = program_name(&name);
        let args = at + 1..words.len();
        if SHELLS.contains(&program) && depth < MAX_DEPTH {
            shell(program, words, args, depth, edits);
        } else if let Some(runner) = RUNNERS.iter().find(|r| r.names.contains(&program)) {
            if let Some(next) = run(runner, program, words, args, depth, edits) {
                at = next;
                continue;
            }
        } else {
            scan_args(program, words, args, depth, edits);
        }
        return;
    }
}

/// `bash [options] -c STRING [NAME [ARGS...]]`: the first operand after `-c` is a command line.
fn shell(program: &str, words: &[&str], args: Range<usize>, depth: usize, edits: &mut [Vec<Edit>]) {
    let mut j = args.start;
    let mut command_string = false;
    while j < args.end {
        let word = words[j];
        if word == "--" || word == "-" {
            j += 1;
            break;
        }
        if word.len() < 2 || !(word.starts_with('-') || word.starts_with('+')) {
            break;
        }
        if word.starts_with("--") {
            j += if matches!(word, "--rcfile" | "--init-file") {
                2
            } else {
                1
            };
            continue;
        }
        // A cluster of one-letter options (`-ec`, `+x`), or not an option.
        let letters = &word[1..];
        if !letters.chars().all(|c| c.is_ascii_alphabetic()) {
            break;
        }
        if word.starts_with('-') && letters.contains('c') {
            command_string = true;
        }
        // `-o pipefail`, `-O extglob`
        j += if word.ends_with(['o', 'O']) { 2 } else { 1 };
    }
    let j = j.min(args.end);
    scan_args(program, words, args.start..j, depth, edits);
    if command_string && j < args.end {
        edits[j] = shell_edits(words[j], depth);
        scan_args(program, words, j + 1..args.end, depth, edits);
    } else {
        scan_args(program, words, j..args.end, depth, edits);
    }
}

/// Where the value of a command option is: the next word, or in this one from a byte offset.
fn command_option(runner: &Runner, word: &str) -> Option<Option<usize>> {
    for option in runner.command_options {
        if word == *option {
            return Some(None);
        }
        if option.starts_with("--") {
            if word
                .strip_prefix(option)
                .is_some_and(|v| v.starts_with('='))
            {
                return Some(Some(option.len() + 1));
            }
            continue;
        }
        // `-c CMD`, `-lc CMD`, `-cCMD`
        let letter = option.chars().nth(1)?;
        if word.starts_with('-') && !word.starts_with("--") {
            if let Some(p) = word[1..].find(letter).map(|p| p + 1) {
                if word[1..p].chars().all(|c| c.is_ascii_alphabetic()) {
                    let value = p + letter.len_utf8();
                    return Some((value < word.len()).then_some(value));
                }
            }
        }
    }
    None
}

/// A runner and its options; where the command it runs starts, if it runs one.
fn run(
    runner: &Runner,
    program: &str,
    words: &[&str],
    args: Range<usize>,
    depth: usize,
    edits: &mut [Vec<Edit>],
) -> Option<usize> {
    let mut j = args.start;
    let mut strings: Vec<(usize, usize)> = Vec::new();
    let mut operands = 0;
    let mut command = None;
    while j < args.end {
        let word = words[j];
        if word == "--" {
            command = Some(j + 1);
            break;
        }
        if word.len() > 1 && word.starts_with('-') {
            match command_option(runner, word) {
                Some(Some(offset)) => strings.push((j, offset)),
                Some(None) => {
                    if j + 1 < args.end {
                        strings.push((j + 1, 0));
                    }
                    j += 1;
                }
                None if runner.valued.contains(&word) => j += 1,
                None => {}
            }
            j += 1;
            continue;
        }
        if runner.assignments && is_assignment(word) {
            j += 1;
            continue;
        }
        if operands < runner.operands || !runner.runs_command {
            operands += 1;
            j += 1;
            continue;
        }
        command = Some(j);
        break;
    }
    let end = command.unwrap_or(args.end).min(args.end);
    let mut is_string = vec![false; end.saturating_sub(args.start)];
    for &(i, _) in &strings {
        if let Some(flag) = is_string.get_mut(i - args.start) {
            *flag = true;
        }
    }
    let own = (args.start..end).filter(|i| !is_string[i - args.start]);
    scan_args(program, words, own, depth, edits);
    for (i, offset) in strings {
        edits[i] = shifted(shell_edits(&words[i][offset..], depth), offset);
    }
    (end < args.end).then_some(end)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// One character of a shell word: where it is in the word's value and in the raw string.
#[derive(Debug)]
struct Char {
    at: usize,
    raw: Range<usize>,
    quote: Quote,
}

/// A shell word: its value (quotes and escapes removed) and where each character came from.
#[derive(Debug, Default)]
struct Word {
    value: String,
    chars: Vec<Char>,
    quoted: bool,
}

impl Word {
    fn push(&mut self, c: char, raw: Range<usize>, quote: Quote) {
        self.chars.push(Char {
            at: self.value.len(),
            raw,
            quote,
        });
        self.value.push(c);
    }

    /// An edit of the value, as an edit of the raw string: quotes in the masked part are
    /// dropped, and the replacement ends in the quoting the rest of the word expects.
    fn raw_edit(&self, edit: &Edit) -> Option<Edit> {
        let first = self.chars.partition_point(|c| c.at < edit.range.start);
        let last = self.chars.partition_point(|c| c.at < edit.range.end);
        if first >= last {
            return None;
        }
        let (first, last) = (&self.chars[first], &self.chars[last - 1]);
        let mut with = quoted(&edit.with, first.quote);
        if first.quote != last.quote {
            with.push_str(match first.quote {
                Quote::None => "",
                Quote::Single => "'",
                Quote::Double => "\"",
            });
            with.push_str(match last.quote {
                Quote::None => "",
                Quote::Single => "'",
                Quote::Double => "\"",
            });
        }
        Some(Edit {
            range: first.raw.start..last.raw.end,
            with,
        })
    }
}

/// `text` written so that it reads as itself inside `quote`.
fn quoted(text: &str, quote: Quote) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match quote {
            Quote::Single if c == '\'' => out.push_str("'\\''"),
            Quote::Double if matches!(c, '"' | '\\' | '$' | '`') => {
                out.push('\\');
                out.push(c);
            }
            Quote::None if " \t'\"\\$`;&|()<>".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The commands of a shell string, as words. Enough of the shell's syntax to find words and
/// where commands start: quotes, backslashes, and `;` `&` `|` `(` `)` `` ` `` and newlines
/// between commands.
fn split_shell(s: &str) -> Vec<Vec<Word>> {
    let mut commands = Vec::new();
    let mut command: Vec<Word> = Vec::new();
    let mut word: Option<Word> = None;
    let mut quote = Quote::None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        match quote {
            Quote::Single => {
                if c == '\'' {
                    quote = Quote::None;
                } else {
                    word.get_or_insert_with(Word::default)
                        .push(c, i..end, quote);
                }
            }
            Quote::Double => match c {
                '"' => quote = Quote::None,
                '\\' if chars
                    .peek()
                    .is_some_and(|&(_, n)| matches!(n, '$' | '`' | '"' | '\\' | '\n')) =>
                {
                    let (j, n) = chars.next().unwrap_or((i, c));
                    if n != '\n' {
                        let w = word.get_or_insert_with(Word::default);
                        w.push(n, i..j + n.len_utf8(), quote);
                    }
                }
                _ => word
                    .get_or_insert_with(Word::default)
                    .push(c, i..end, quote),
            },
            Quote::None => match c {
                '\'' | '"' => {
                    word.get_or_insert_with(Word::default).quoted = true;
                    quote = if c == '\'' {
                        Quote::Single
                    } else {
                        Quote::Double
                    };
                }
                '\\' => match chars.next() {
                    Some((_, '\n')) => {}
                    Some((j, n)) => {
                        let w = word.get_or_insert_with(Word::default);
                        w.quoted = true;
                        w.push(n, i..j + n.len_utf8(), quote);
                    }
                    None => word
                        .get_or_insert_with(Word::default)
                        .push(c, i..end, quote),
                },
                ' ' | '\t' => command.extend(word.take()),
                // `2>&1`, `>&2`, `&>file` are redirections, not `&` between commands.
                '&' if word.as_ref().is_some_and(|w| {
                    w.chars.last().is_some_and(|l| l.quote == Quote::None)
                        && w.value.ends_with(['>', '<'])
                }) || chars.peek().is_some_and(|&(_, n)| n == '>') =>
                {
                    word.get_or_insert_with(Word::default)
                        .push(c, i..end, quote)
                }
                '\n' | ';' | '&' | '|' | '(' | ')' | '`' => {
                    command.extend(word.take());
                    if !command.is_empty() {
                        commands.push(std::mem::take(&mut command));
                    }
                }
                _ => word
                    .get_or_insert_with(Word::default)
                    .push(c, i..end, quote),
            },
        }
    }
    command.extend(word.take());
    if !command.is_empty() {
        commands.push(command);
    }
    commands
}

/// The edits of a shell string: each of its commands redacted as a command line.
fn shell_edits(s: &str, depth: usize) -> Vec<Edit> {
    let mut edits = Vec::new();
    for command in split_shell(s) {
        let start = command
            .iter()
            .position(|w| w.quoted || !KEYWORDS.contains(&w.value.as_str()))
            .unwrap_or(command.len());
        let words = &command[start..];
        let values: Vec<&str> = words.iter().map(|w| w.value.as_str()).collect();
        let found = scan_command(&values, depth + 1, true);
        for (word, word_edits) in words.iter().zip(found) {
            edits.extend(word_edits.iter().filter_map(|e| word.raw_edit(e)));
        }
    }
    edits
}

/// How many times a command line is redacted at most, until a pass changes nothing.
const PASSES: usize = 4;

/// One pass over a command line.
fn redact_once(args: &[String]) -> Vec<String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let edits = scan_command(&words, 0, false);
    words
        .iter()
        .zip(edits)
        .map(|(word, edits)| apply(word, edits))
        .collect()
}

/// Masks the secrets of a command line given as its arguments.
///
/// One pass finds every form; passes are repeated until one changes nothing, because masking
/// can change how an argument reads (a quoted secret with blanks in it made an argument a
/// command line, and the masked argument has no blanks left), and redacting twice must change
/// nothing.
pub fn redact_args(args: &[String]) -> Vec<String> {
    let mut out = redact_once(args);
    if out.as_slice() == args {
        return out;
    }
    for _ in 1..PASSES {
        let next = redact_once(&out);
        if next == out {
            break;
        }
        out = next;
    }
    out
}

/// Masks the secrets of a command line given as one string (arguments separated by spaces).
pub fn redact(cmdline: &str) -> String {
    let args: Vec<String> = cmdline.split(' ').map(str::to_string).collect();
    redact_args(&args).join(" ")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn known_secret_forms_are_masked() {
        let cases = [
            ("mysql -uroot -pS3cret db", "mysql -uroot -p*** db"),
            (
                "/usr/bin/mysqldump -phunter2 --all",
                "/usr/bin/mysqldump -p*** --all",
            ),
            (
                "app --password=hunter2 --port 80",
                "app --password=*** --port 80",
            ),
            ("app --password hunter2", "app --password ***"),
            ("app --db-password=x1", "app --db-password=***"),
            ("worker token=abc123", "worker token=***"),
            (
                "curl https://api.example/v1?user=me&token=abc&x=1",
                "curl https://api.example/v1?user=me&token=***&x=1",
            ),
            (
                "git clone https://alice:s3cret@git.example/repo.git",
                "git clone https://alice:***@git.example/repo.git",
            ),
            (
                "curl -H Authorization: Bearer eyJhbGciOi",
                "curl -H Authorization: Bearer ***",
            ),
            (
                "wget --header=Authorization:Basic Zm9vOmJhcg==",
                "wget --header=Authorization:Basic ***",
            ),
            (
                "psql postgresql://app:pw@db.example:5432/app",
                "psql postgresql://app:***@db.example:5432/app",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(redact(raw), want, "{raw}");
        }
    }

    /// Found by the fuzzer (fuzz/ names): a secret inside another option's value.
    #[test]
    fn a_secret_inside_another_value() {
        assert_eq!(redact("app --opt=token=abc"), "app --opt=token=***");
        assert_eq!(redact("x=a_password=b c"), "x=a_password=*** c");
    }

    /// Found by the fuzzer: redacting twice must change nothing, argv[0] included.
    #[test]
    fn redaction_is_idempotent_when_argv0_holds_a_secret() {
        let raw = "mysql.pass=x&y -pwd,z";
        let once = redact(raw);
        assert_eq!(redact(&once), once);
        assert_eq!(once, "mysql.pass=***&y -p***");
    }

    #[test]
    fn multibyte_text_before_a_key() {
        assert_eq!(redact("Ⱥtoken=abc élan=1"), "Ⱥtoken=*** élan=1");
    }

    #[test]
    fn one_argument_with_spaces() {
        let argv: Vec<String> = [
            "curl",
            "-H",
            "Authorization: Bearer eyJhbGciOi",
            "https://a.example",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(super::redact_args(&argv)[2], "Authorization: Bearer ***");
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    fn check(cases: &[(&[&str], &[&str])]) {
        for (raw, want) in cases {
            let once = super::redact_args(&argv(raw));
            assert_eq!(once, argv(want), "{raw:?}");
            assert_eq!(super::redact_args(&once), once, "{raw:?} redacted twice");
        }
    }

    /// Issue item 6: secrets inside arguments that are command lines themselves.
    #[test]
    #[rustfmt::skip]
    fn secrets_inside_shell_strings() {
        check(&[
            (&["bash", "-c", "sleep 300; mysqldump -uroot -phunter2q --password hunter2r db"],
             &["bash", "-c", "sleep 300; mysqldump -uroot -p*** --password *** db"]),
            (&["/bin/sh", "-ec", "cd /srv && PGPASSWORD='s3 cret' psql -h db | gzip"],
             &["/bin/sh", "-ec", "cd /srv && PGPASSWORD='***' psql -h db | gzip"]),
            (&["bash", "-c", "sudo -u app sh -c \"mysql -pXy1 -e 'select 1'\"; ssh -p 2222 h"],
             &["bash", "-c", "sudo -u app sh -c \"mysql -p*** -e 'select 1'\"; ssh -p 2222 h"]),
            (&["su", "-", "postgres", "-c", "curl -u admin:pw1 -H 'X-Api-Key: k2' https://a.example"],
             &["su", "-", "postgres", "-c", "curl -u admin:*** -H 'X-Api-Key: ***' https://a.example"]),
            (&["sudo", "-u", "root", "env", "MYSQL_PWD=pw3", "mysqldump", "-ppw4", "db"],
             &["sudo", "-u", "root", "env", "MYSQL_PWD=***", "mysqldump", "-p***", "db"]),
            (&["nohup", "timeout", "60", "sshpass", "-p", "pw5", "ssh", "-p", "2222", "host"],
             &["nohup", "timeout", "60", "sshpass", "-p", "***", "ssh", "-p", "2222", "host"]),
        ]);
    }

    /// Issue item 7: forms that were not masked.
    #[test]
    #[rustfmt::skip]
    fn forms_that_were_not_masked() {
        check(&[
            (&["curl", "-u", "admin:pw", "https://a.example"], &["curl", "-u", "admin:***", "https://a.example"]),
            (&["curl", "--user=admin:pw", "x"], &["curl", "--user=admin:***", "x"]),
            (&["java", "-Djavax.net.ssl.keyStorePassword=pw", "-Dfile.encoding=UTF-8", "-jar", "a.jar"],
             &["java", "-Djavax.net.ssl.keyStorePassword=***", "-Dfile.encoding=UTF-8", "-jar", "a.jar"]),
            (&["app", "-Dapp.clientSecret=pw"], &["app", "-Dapp.clientSecret=***"]),
            (&["app", "--secret_key=pw"], &["app", "--secret_key=***"]),
            (&["app", "--aws-secret-access-key", "pw", "-v"], &["app", "--aws-secret-access-key", "***", "-v"]),
            (&["curl", "-H", "X-Api-Key: pw"], &["curl", "-H", "X-Api-Key: ***"]),
            (&["curl", "-H", "Authorization: token pw"], &["curl", "-H", "Authorization: token ***"]),
            (&["redis-cli", "-h", "c", "-a", "pw", "ping"], &["redis-cli", "-h", "c", "-a", "***", "ping"]),
            (&["app", "-password", "pw", "-v"], &["app", "-password", "***", "-v"]),
            (&["gpg", "--passphrase", "pw", "-d"], &["gpg", "--passphrase", "***", "-d"]),
            (&["env", "PGPASSWORD=pw", "psql"], &["env", "PGPASSWORD=***", "psql"]),
        ]);
    }

    /// Shell syntax around the secrets: quotes, escapes, separators, substitutions, grouping.
    #[test]
    #[rustfmt::skip]
    fn shell_syntax() {
        let sh = |s: &'static str| -> [&'static str; 3] { ["sh", "-c", s] };
        for (raw, want) in [
            // Quotes that end inside the secret, or start in it.
            ("mysql -p'se'cret db", "mysql -p'***' db"),
            ("mysql -pse'cr et' db", "mysql -p***'' db"),
            ("mysql -p\"a\\\"b\" db", "mysql -p\"***\" db"),
            ("mysql -pa\\ b db", "mysql -p*** db"),
            // Unclosed quotes stay unclosed.
            ("mysql -p'abc", "mysql -p'***"),
            // Separators, with no blanks around them.
            ("a;mysql -pX&&mysql -pY||mysql -pZ|mysql -pW&mysql -pV\nmysql -pU", "a;mysql -p***&&mysql -p***||mysql -p***|mysql -p***&mysql -p***\nmysql -p***"),
            // Redirections are not separators.
            ("mysql 2>&1 -pX >&2 &>/dev/null -pY", "mysql 2>&1 -p*** >&2 &>/dev/null -p***"),
            // Substitutions, grouping, keywords, comments.
            ("x=$(mysql -pX -e 'select 1') `mysql -pY`", "x=$(mysql -p*** -e 'select 1') `mysql -p***`"),
            ("echo \"$(mysql -pX)\"", "echo \"$(mysql -p***)\""),
            ("{ mysql -pX; } && ( mysql -pY )", "{ mysql -p***; } && ( mysql -p*** )"),
            ("if mysql -pX; then ! mysql -pY; fi", "if mysql -p***; then ! mysql -p***; fi"),
            ("while true; do mysql -pX; done", "while true; do mysql -p***; done"),
            ("# mysql -pX\nexit", "# mysql -p***\nexit"),
            // A line continuation.
            ("mysql \\\n -pX", "mysql \\\n -p***"),
            // Multibyte text around.
            ("é; mysql -pé€ --password 日本 # ü", "é; mysql -p*** --password *** # ü"),
        ] {
            check(&[(&sh(raw), &sh(want))]);
        }
    }

    /// Programs that run other programs, and shells, however they are written.
    #[test]
    #[rustfmt::skip]
    fn runners_and_shells() {
        check(&[
            (&["sudo", "-u", "app", "--", "mysql", "-pX"], &["sudo", "-u", "app", "--", "mysql", "-p***"]),
            (&["/usr/bin/sudo", "-E", "PGPASSWORD=x", "psql"], &["/usr/bin/sudo", "-E", "PGPASSWORD=***", "psql"]),
            (&["timeout", "-s", "KILL", "5", "mysql", "-pX"], &["timeout", "-s", "KILL", "5", "mysql", "-p***"]),
            (&["env", "-i", "-u", "HOME", "A=1", "mysql", "-pX"], &["env", "-i", "-u", "HOME", "A=1", "mysql", "-p***"]),
            (&["env", "-S", "mysql -pX db"], &["env", "-S", "mysql -p*** db"]),
            (&["env", "--split-string=mysql -pX db"], &["env", "--split-string=mysql -p*** db"]),
            (&["flock", "/run/l", "-c", "mysql -pX db"], &["flock", "/run/l", "-c", "mysql -p*** db"]),
            (&["flock", "-w", "5", "/run/l", "mysql", "-pX"], &["flock", "-w", "5", "/run/l", "mysql", "-p***"]),
            (&["xargs", "-I{}", "-n", "1", "mysql", "-pX", "{}"], &["xargs", "-I{}", "-n", "1", "mysql", "-p***", "{}"]),
            (&["nice", "-n", "5", "ionice", "-c", "3", "chrt", "10", "mysql", "-pX"],
             &["nice", "-n", "5", "ionice", "-c", "3", "chrt", "10", "mysql", "-p***"]),
            (&["su", "-lc", "mysql -pX", "root"], &["su", "-lc", "mysql -p***", "root"]),
            (&["su", "root", "--command=mysql -pX"], &["su", "root", "--command=mysql -p***"]),
            (&["runuser", "-u", "app", "--", "mysql", "-pX"], &["runuser", "-u", "app", "--", "mysql", "-p***"]),
            (&["busybox", "sh", "-c", "mysql -pX"], &["busybox", "sh", "-c", "mysql -p***"]),
            (&["-bash", "-c", "mysql -pX"], &["-bash", "-c", "mysql -p***"]),
            (&["bash", "-o", "pipefail", "-ec", "mysql -pX", "name", "--password", "Y"],
             &["bash", "-o", "pipefail", "-ec", "mysql -p***", "name", "--password", "***"]),
            (&["bash", "script.sh", "--password", "X"], &["bash", "script.sh", "--password", "***"]),
            // Shells in the arguments of other programs, and remote commands.
            (&["docker", "exec", "db", "sh", "-c", "mysqldump -pX app"], &["docker", "exec", "db", "sh", "-c", "mysqldump -p*** app"]),
            (&["ssh", "-p", "2222", "db", "mysqldump -pX app | gzip"], &["ssh", "-p", "2222", "db", "mysqldump -p*** app | gzip"]),
            // A query with a password in it.
            (&["mysql", "-e", "SET PASSWORD = 'x'; UPDATE u SET password='y'"],
             &["mysql", "-e", "SET PASSWORD = 'x'; UPDATE u SET password='***'"]),
            // Three levels of shell strings.
            (&["sh", "-c", "bash -c \"sudo su -c 'mysql -pX' app\""], &["sh", "-c", "bash -c \"sudo su -c 'mysql -p***' app\""]),
        ]);
    }

    /// Nested shell strings are followed `MAX_DEPTH` levels deep; deeper, nothing panics.
    #[test]
    fn nested_shell_strings() {
        let nest = |levels: usize| {
            let mut line = "mysql --password X -phunter2".to_string();
            for _ in 0..levels {
                let quoted: String = line
                    .chars()
                    .flat_map(|c| match c {
                        '"' | '\\' | '$' | '`' => vec!['\\', c],
                        _ => vec![c],
                    })
                    .collect();
                line = format!("sudo sh -c \"{quoted}\"");
            }
            argv(&["bash", "-c", &line])
        };
        for levels in 0..super::MAX_DEPTH - 1 {
            let once = super::redact_args(&nest(levels));
            assert!(
                !once[2].contains("hunter2") && !once[2].contains(" X"),
                "{once:?}"
            );
            assert_eq!(super::redact_args(&once), once);
        }
        let once = super::redact_args(&nest(12));
        assert_eq!(super::redact_args(&once), once);
    }

    /// Key names: case, separators, camelCase.
    #[test]
    fn secret_keys() {
        for key in [
            "password",
            "--db-password",
            "PGPASSWORD",
            "MYSQL_PWD",
            "keyStorePassword",
            "javax.net.ssl.trustStorePassword",
            "clientSecret",
            "client_secret",
            "GITHUB_TOKEN",
            "access_token",
            "X-Api-Key",
            "apiKey",
            "APIKey",
            "api-key",
            "secret_key",
            "aws-secret-access-key",
            "AWS_SECRET_ACCESS_KEY",
            "privateKey",
            "passphrase",
            "-pass",
            "-storepass",
            "pw",
            "account-key",
        ] {
            assert!(super::is_secret_key(key), "{key}");
        }
        for key in [
            "p",
            "port",
            "passes",
            "bypass",
            "password-file",
            "token-type",
            "max-tokens",
            "access-key",
            "AWS_ACCESS_KEY_ID",
            "key",
            "ssh-key",
            "PWD",
            "OLDPWD",
            "file.encoding",
            "secret-name",
            "user",
        ] {
            assert!(!super::is_secret_key(key), "{key}");
        }
    }

    /// Long and hostile command lines take linear time.
    #[test]
    fn long_command_lines() {
        let started = std::time::Instant::now();
        for arg in [
            "a=".repeat(50_000),
            "token=x&".repeat(20_000),
            "https://u:p@".repeat(20_000),
            "x: ".repeat(50_000),
            "'a b' \"c d\" ; ".repeat(20_000),
            "sudo ".repeat(20_000) + "mysql -pX",
            "é".repeat(100_000),
        ] {
            for argv in [argv(&["app", &arg]), argv(&["bash", "-c", &arg])] {
                let once = super::redact_args(&argv);
                assert_eq!(super::redact_args(&once), once);
            }
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    /// Found by the property tests: masking a quoted secret with a blank in it, or an escaped
    /// separator, changes how the argument reads; the second pass must change nothing.
    #[test]
    fn idempotent_when_masking_changes_how_an_argument_reads() {
        for raw in [
            &["mysql", "&token='Authorization: "][..],
            &["bash", ";--password=|--password=\\"],
            &["bash", "&token=\\||"],
            &["-bash", "--password", "-c", "-c", "Authorization:\n"],
        ] {
            let once = super::redact_args(&argv(raw));
            assert_eq!(super::redact_args(&once), once, "{raw:?}");
        }
    }

    /// A process that wrote its whole command line over its argv[0].
    #[test]
    fn a_command_line_in_argv0() {
        check(&[
            (&["worker --token abc -v"], &["worker --token *** -v"]),
            (
                &["postgres: 14/main: app appdb 10.0.0.1(5432) idle"],
                &["postgres: 14/main: app appdb 10.0.0.1(5432) idle"],
            ),
        ]);
    }

    #[test]
    fn ordinary_command_lines_are_untouched() {
        for raw in [
            "/usr/sbin/apache2 -k start",
            "php-fpm: pool www",
            "nginx -p /srv/nginx -c conf",
            "ssh -p 2222 host",
            "curl https://example.com/a?b=c",
            "java -Dfile.encoding=UTF-8 -jar app.jar",
            "python3 -u app.py",
            "grep -a foo",
            "sshpass -f /etc/pw ssh -p 2222 host",
            "psql --no-password -h db",
            "docker login --password-stdin -u me",
        ] {
            assert_eq!(redact(raw), raw);
            // ...and in shell strings.
            let argv = argv(&[
                "bash",
                "-c",
                &format!("cd /srv && {raw} | tee log; sudo {raw}"),
            ]);
            assert_eq!(super::redact_args(&argv), argv);
        }
    }
}

/// One property test per form of [`FORMS`]: a random secret in the form's example, the example
/// run as is, behind a runner, in a shell string, or two shell strings deep.
#[cfg(test)]
mod form_properties {
    use super::{redact_args, split_shell, Rule, FORMS};
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy)]
    enum Style {
        Single,
        Double,
        Backslash,
    }

    /// `word` as a shell would need it written to read it back.
    fn quote(word: &str, style: Style) -> String {
        match style {
            Style::Single => format!("'{}'", word.replace('\'', r"'\''")),
            Style::Double => {
                let mut out = String::from("\"");
                for c in word.chars() {
                    if matches!(c, '"' | '\\' | '$' | '`') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out + "\""
            }
            Style::Backslash if word.is_empty() => "''".to_string(),
            Style::Backslash => {
                let mut out = String::new();
                for c in word.chars() {
                    if " \t'\"\\$`;&|()<>#!{}".contains(c) {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out
            }
        }
    }

    fn join(argv: &[String], style: Style) -> String {
        argv.iter()
            .map(|w| quote(w, style))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// How the command line is run.
    #[derive(Debug, Clone, Copy)]
    enum Wrap {
        Plain,
        Runner(usize),
        Shell(Style),
        Su(Style),
        Nested(Style, Style),
    }

    const RUNNERS: [&[&str]; 6] = [
        &["sudo", "-u", "root"],
        &["env", "LANG=C"],
        &["/usr/bin/timeout", "5"],
        &["nice", "-n", "10"],
        &["nohup"],
        &["busybox"],
    ];

    fn wrap(argv: &[String], how: Wrap) -> Vec<String> {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match how {
            Wrap::Plain => argv.to_vec(),
            Wrap::Runner(k) => [words(RUNNERS[k % RUNNERS.len()]), argv.to_vec()].concat(),
            Wrap::Shell(style) => words(&[
                "bash",
                "-c",
                &format!("cd /tmp && {} | cat", join(argv, style)),
            ]),
            Wrap::Su(style) => words(&[
                "su",
                "-",
                "postgres",
                "-c",
                &format!("{}; echo done", join(argv, style)),
            ]),
            Wrap::Nested(outer, inner) => {
                let inner = format!("sleep 1; {}", join(argv, inner));
                words(&[
                    "/bin/sh",
                    "-ec",
                    &format!("sudo -u app bash -c {}\nexit 0", quote(&inner, outer)),
                ])
            }
        }
    }

    fn style() -> impl Strategy<Value = Style> {
        prop_oneof![
            Just(Style::Single),
            Just(Style::Double),
            Just(Style::Backslash)
        ]
    }

    fn wrapping() -> impl Strategy<Value = Wrap> {
        prop_oneof![
            Just(Wrap::Plain),
            (0..RUNNERS.len()).prop_map(Wrap::Runner),
            style().prop_map(Wrap::Shell),
            style().prop_map(Wrap::Su),
            (style(), style()).prop_map(|(o, i)| Wrap::Nested(o, i)),
        ]
    }

    /// Printable characters other than spaces, multibyte ones too.
    fn secret() -> impl Strategy<Value = String> {
        "[!-~éȺ€日]{1,20}"
    }

    /// Characters a shell string has to quote.
    const SPECIAL: &str = " \t'\"\\$`;&|()<>#!{}";

    /// What a shell makes of an argument, shell strings in it read as well.
    #[derive(Debug, PartialEq)]
    enum Read {
        Word(String),
        Commands(Vec<Vec<Read>>),
    }

    impl Read {
        fn words<'a>(&'a self, out: &mut Vec<&'a str>) {
            match self {
                Read::Word(w) => out.push(w),
                Read::Commands(commands) => commands.iter().flatten().for_each(|r| r.words(out)),
            }
        }
    }

    fn read_back(arg: &str, depth: usize) -> Read {
        if depth > 4 || !arg.contains([' ', '\t', '\n']) {
            return Read::Word(arg.to_string());
        }
        Read::Commands(
            split_shell(arg)
                .iter()
                .map(|command| {
                    command
                        .iter()
                        .map(|w| read_back(&w.value, depth + 1))
                        .collect()
                })
                .collect(),
        )
    }

    fn check(name: &str, secret: &str, how: Wrap) -> Result<(), TestCaseError> {
        let form = FORMS.iter().find(|f| f.name == name).expect("a form");
        // Where a form's value ends at some character, the secret cannot hold it.
        let ends = match form.rule {
            Rule::Parameter => "&;,",
            Rule::UrlUserinfo => "/?#",
            _ => "",
        };
        let mut secret: String = secret.chars().filter(|c| !ends.contains(*c)).collect();
        if secret.chars().all(|c| c == '*') {
            secret.push('x');
        }
        let fill = |words: &[&str]| {
            words
                .iter()
                .map(|w| w.replace("hunter2", &secret))
                .collect::<Vec<_>>()
        };
        let raw = wrap(&fill(form.example), how);
        let want = wrap(&fill(form.masked), how);
        let once = redact_args(&raw);
        let read = |argv: &[String]| argv.iter().map(|a| read_back(a, 0)).collect::<Vec<_>>();
        if secret.contains(|c| SPECIAL.contains(c)) {
            // The secret was quoted in the shell string: `'Bearer '\''x'` becomes
            // `'Bearer '***''`, which reads as `Bearer ***` as well.
            prop_assert_eq!(read(&once), read(&want), "{:?} became {:?}", raw, once);
        } else {
            prop_assert_eq!(&once, &want, "{:?}", raw);
        }
        // The secret is gone from what a shell reads (the text can hold its characters next to
        // each other by chance: `*'` in `"***''"`).
        let (read_once, read_want) = (read(&once), read(&want));
        let mut words = Vec::new();
        read_once.iter().for_each(|r| r.words(&mut words));
        let mut wanted = Vec::new();
        read_want.iter().for_each(|r| r.words(&mut wanted));
        if !wanted.iter().any(|w| w.contains(&secret)) {
            prop_assert!(!words.iter().any(|w| w.contains(&secret)), "{:?}", once);
        }
        prop_assert_eq!(redact_args(&once), once, "redacting twice changes nothing");
        Ok(())
    }

    macro_rules! form_properties {
        ($($test:ident: $form:literal,)*) => {
            proptest! {
                #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
                $(
                    #[test]
                    fn $test(secret in secret(), how in wrapping()) {
                        check($form, &secret, how)?;
                    }
                )*
            }

            #[test]
            fn every_form_has_a_property_test() {
                let tested = [$($form),*];
                for form in FORMS {
                    assert!(tested.contains(&form.name), "no property test for {}", form.name);
                }
                assert_eq!(tested.len(), FORMS.len());
            }
        };
    }

    form_properties! {
        next_argument: "option, secret in the next argument",
        single_dash_next_argument: "single-dash option, secret in the next argument",
        passphrase: "passphrase option",
        secret_key_option: "secret key option",
        attached_value: "option with an attached value",
        java_property: "Java system property",
        environment_assignment: "environment assignment",
        query_parameter: "query parameter",
        url_credentials: "URL credentials",
        authorization_header: "Authorization header",
        authorization_token_header: "Authorization token header",
        secret_header: "secret header",
        header_split_over_words: "header split over words",
        mysql_dash_p: "MySQL and MariaDB -pPASSWORD",
        mongodb_dash_p: "MongoDB tools -p PASSWORD",
        redis_cli_dash_a: "redis-cli -a PASSWORD",
        sshpass_dash_p: "sshpass -p PASSWORD",
        ldap_dash_w: "LDAP tools -w PASSWORD",
        curl_user_password: "curl user:password",
    }

    /// The examples of the table, as they are.
    #[test]
    fn the_examples_of_the_table() {
        for form in FORMS {
            let argv = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            assert_eq!(
                redact_args(&argv(form.example)),
                argv(form.masked),
                "{}",
                form.name
            );
        }
    }
}
