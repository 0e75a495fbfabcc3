//! The forms that are masked: one table, each with an example; the shells, runners and
//! key words the scanner recognises.

/// How a form finds its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
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
pub(crate) struct ProgramOption {
    /// Program names (the last path component); a trailing `*` matches any ending.
    pub(crate) programs: &'static [&'static str],
    /// The options (`-p`, `--user`).
    pub(crate) options: &'static [&'static str],
    pub(crate) value: Value,
}

/// Where the value of a program's option is, and what of it is secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    /// Attached only: `-pVALUE` (`-p` alone asks for the password).
    Attached,
    /// The next argument only: `-a VALUE`.
    Separate,
    /// `-pVALUE` or `-p VALUE`.
    Either,
    /// `user:password`, attached or not (`-u admin:pw`, `--user=admin:pw`): the user is kept.
    UserPassword,
}

pub(super) const fn program(
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
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Form {
    pub(crate) name: &'static str,
    pub(crate) rule: Rule,
    /// A command line with the secret `hunter2` in this form...
    pub(crate) example: &'static [&'static str],
    /// ...and what redaction makes of it.
    pub(crate) masked: &'static [&'static str],
}

/// Every form of secret that is masked.
#[rustfmt::skip]
pub(crate) const FORMS: &[Form] = &[
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
pub(super) const SECRET_ENDINGS: [&str; 10] = [
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
pub(super) const SECRET_WORDS: [&str; 3] = ["pass", "pwd", "pw"];

/// ...or is `key` after one of these: `api_key`, `X-Api-Key`, `secret_key`, `privateKey`,
/// `--account-key` (and `secret access key`).
pub(super) const KEY_QUALIFIERS: [&str; 7] = [
    "api",
    "secret",
    "private",
    "encryption",
    "signing",
    "master",
    "account",
];

/// Authorization schemes, kept in front of the credentials they introduce.
pub(super) const AUTH_SCHEMES: [&str; 8] = [
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
pub(super) const SHELLS: [&str; 12] = [
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "fish", "csh", "tcsh", "rbash",
];

/// Reserved words and grouping that can come before a command in a shell string.
pub(super) const KEYWORDS: [&str; 13] = [
    "!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "#",
];

/// A program that runs a command given in its arguments.
#[derive(Debug)]
pub(crate) struct Runner {
    pub(crate) names: &'static [&'static str],
    /// Options that take the next argument as their value.
    pub(crate) valued: &'static [&'static str],
    /// Options whose value is a command line (`su -c CMD`, `env -S CMD`).
    pub(crate) command_options: &'static [&'static str],
    /// Operands before the command: `timeout DURATION`, `chroot DIR`, `flock FILE`.
    pub(crate) operands: usize,
    /// `NAME=VALUE` words may come before the command (`env`, `sudo`).
    pub(crate) assignments: bool,
    /// Whether the arguments after its options are a command (not for `su`, whose are the
    /// user and arguments for the shell), besides those after `--`.
    pub(crate) runs_command: bool,
}

pub(super) const fn runner(
    names: &'static [&'static str],
    valued: &'static [&'static str],
) -> Runner {
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
pub(crate) const RUNNERS: &[Runner] = &[
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
pub(super) fn key_words(key: &str) -> Vec<String> {
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
pub(crate) fn is_secret_key(key: &str) -> bool {
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

pub(super) fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

pub(super) fn is_scheme(word: &str) -> bool {
    AUTH_SCHEMES.contains(&word.to_ascii_lowercase().as_str())
}

/// `NAME=...` as a shell variable assignment.
pub(super) fn is_assignment(word: &str) -> bool {
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
pub(super) fn program_name(word: &str) -> &str {
    let base = word.rsplit('/').next().unwrap_or(word);
    base.strip_prefix('-').unwrap_or(base)
}

pub(super) fn program_matches(program: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => program.starts_with(prefix),
        None => program == pattern,
    }
}
