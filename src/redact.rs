//! Secrets in command lines: `mysql -pSECRET`, `--password=...`, `token=...`,
//! `https://user:pass@host`, `Authorization: Bearer ...`. Replaced by `***` before anything
//! is shown or recorded (unless `--no-redact`).

const MASK: &str = "***";

/// Option and parameter names whose value is a secret (`--NAME=value`, `--NAME value`,
/// `NAME=value` anywhere, as in a URL query).
const SECRET_KEYS: [&str; 13] = [
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "auth_token",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
];

/// Programs whose `-pVALUE` is a password (MySQL and MariaDB clients).
fn takes_dash_p_password(program: &str) -> bool {
    let base = program.rsplit('/').next().unwrap_or(program);
    base.starts_with("mysql") || base.starts_with("mariadb")
}

fn is_secret_key(key: &str) -> bool {
    let key = key.trim_start_matches('-').to_ascii_lowercase();
    SECRET_KEYS
        .iter()
        .any(|k| key == *k || key.ends_with(&format!("_{k}")) || key.ends_with(&format!("-{k}")))
}

/// `key=value` pairs inside one argument (also `?a=b&token=c` in URLs): secret values masked.
fn redact_pairs(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(eq) = rest.find('=') {
        let (before, after) = rest.split_at(eq);
        // The key is the run of name characters just before '='.
        let key_start = before
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let key = &before[key_start..];
        out.push_str(before);
        out.push('=');
        let value = &after[1..];
        let end = value.find(['&', ';', ' ', ',']).unwrap_or(value.len());
        if is_secret_key(key) && end > 0 {
            out.push_str(MASK);
            rest = &value[end..];
        } else {
            // Not a secret: keep scanning inside the value (`--opt=token=abc`).
            rest = value;
        }
    }
    out.push_str(rest);
    out
}

/// `scheme://user:password@host` with the password masked.
fn redact_userinfo(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = arg[authority_start..]
        .find(['/', '?', '#'])
        .map_or(arg.len(), |i| authority_start + i);
    let authority = &arg[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return arg.to_string();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return arg.to_string();
    };
    format!(
        "{}{}:{}{}",
        &arg[..authority_start],
        &userinfo[..colon],
        MASK,
        &arg[authority_start + at..]
    )
}

/// Masks the secrets of a command line given as its arguments.
pub fn redact_args(args: &[String]) -> Vec<String> {
    // Judged on the redacted program name, so that redacting twice changes nothing.
    let program = args
        .first()
        .map(|p| redact_userinfo(&redact_pairs(p)))
        .unwrap_or_default();
    let program = program.as_str();
    let mut out = Vec::with_capacity(args.len());
    let mut mask_next = false;
    for (i, arg) in args.iter().enumerate() {
        if mask_next {
            out.push(MASK.to_string());
            mask_next = false;
            continue;
        }
        let lower = arg.to_ascii_lowercase();
        if i > 0
            && takes_dash_p_password(program)
            && arg.starts_with("-p")
            && arg.len() > 2
            && !arg.starts_with("--")
        {
            out.push(format!("-p{MASK}"));
            continue;
        }
        // `--password VALUE`, `-H "Authorization: Bearer X"`, `Bearer X`
        if arg.starts_with("--") && !arg.contains('=') && is_secret_key(arg) {
            out.push(arg.clone());
            mask_next = true;
            continue;
        }
        // An authorization scheme whose credentials are the next argument.
        if lower.ends_with("bearer") || lower.ends_with("basic") {
            out.push(arg.clone());
            mask_next = true;
            continue;
        }
        if let Some(pos) = lower.find("bearer ").or_else(|| lower.find("basic ")) {
            let keep = pos + lower[pos..].find(' ').unwrap_or(0) + 1;
            out.push(format!("{}{MASK}", &arg[..keep]));
            continue;
        }
        out.push(redact_userinfo(&redact_pairs(arg)));
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

    #[test]
    fn ordinary_command_lines_are_untouched() {
        for raw in [
            "/usr/sbin/apache2 -k start",
            "php-fpm: pool www",
            "nginx -p /srv/nginx -c conf",
            "ssh -p 2222 host",
            "curl https://example.com/a?b=c",
            "java -Dfile.encoding=UTF-8 -jar app.jar",
        ] {
            assert_eq!(redact(raw), raw);
        }
    }
}
