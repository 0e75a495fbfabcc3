//! One property test per form of [`super::FORMS`]: a random secret in the form's example, the
//! example run as is, behind a runner, in a shell string, or two shell strings deep.

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
