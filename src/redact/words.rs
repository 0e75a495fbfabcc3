//! One word at a time: secret options, assignments, URL credentials, header values.

use super::*;

/// What the previous word says about the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pending {
    /// It is a secret.
    Whole,
    /// It is `user:secret`.
    AfterColon,
    /// It is an authorization scheme followed by the secret, or the secret itself.
    Scheme,
}

/// `KEY=VALUE` pairs anywhere in a word (URL queries too): secret values up to `&`, `;`, `,`
/// or a space.
pub(super) fn parameters(word: &str) -> Vec<Edit> {
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
pub(super) fn url_userinfo(word: &str) -> Vec<Edit> {
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
pub(super) fn header(word: &str) -> Option<(Vec<Edit>, Option<Pending>)> {
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
pub(super) fn secret_option(word: &str) -> bool {
    let key = word.trim_start_matches('-');
    word.starts_with('-')
        && !key.is_empty()
        && key.chars().all(is_key_char)
        && key_words(key).first().is_none_or(|w| w != "no")
        && is_secret_key(key)
}

/// The edits of one word that is not the program, and what it says about the next word.
pub(super) fn word_edits(word: &str, depth: usize) -> (Vec<Edit>, Option<Pending>) {
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
pub(super) fn pending_edits(pending: Pending, word: &str) -> (Vec<Edit>, Option<Pending>) {
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
pub(super) fn program_option(program: &str, word: &str) -> Option<(Vec<Edit>, Option<Pending>)> {
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
