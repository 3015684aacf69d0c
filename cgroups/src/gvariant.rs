//! GVariant text, the format of `org.systemd.property.*` annotation values (runc reads
//! them with godbus's ParseVariant; the format is GLib's "GVariant Text Format"). The part
//! unit properties use: booleans, numbers (bare ones are int32 or double), strings,
//! type keywords (`uint64 5`), `@T` annotations (`@as []`), arrays and tuples.

use crate::dbus::Value;

/// A literal before its type is settled: bare numbers take the type their context wants.
#[derive(Debug, Clone)]
enum Term {
    Number(String),
    Bool(bool),
    Str(String),
    /// A literal with its type given (`uint64 5`, `@t 5`).
    Typed(String, Box<Term>),
    Array(Vec<Term>),
    Tuple(Vec<Term>),
}

const KEYWORDS: [(&str, &str); 12] = [
    ("boolean", "b"),
    ("byte", "y"),
    ("int16", "n"),
    ("uint16", "q"),
    ("int32", "i"),
    ("uint32", "u"),
    ("int64", "x"),
    ("uint64", "t"),
    ("double", "d"),
    ("string", "s"),
    ("objectpath", "o"),
    ("signature", "g"),
];

/// `text` as a D-Bus value.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser { s: text, pos: 0 };
    let term = p.term()?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(format!("unexpected {:?}", &p.s[p.pos..]));
    }
    let sig = infer(&term)?;
    convert(&term, &sig)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            return true;
        }
        false
    }

    /// A run of characters that can make a word or a number.
    fn word(&mut self) -> &str {
        self.ws();
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+-._".contains(c)))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.s[start..start + len]
    }

    fn term(&mut self) -> Result<Term, String> {
        self.ws();
        match self.rest().chars().next() {
            None => Err("a value is missing".into()),
            Some('\'' | '"') => self.string().map(Term::Str),
            Some('[') => self.list('[', ']').map(Term::Array),
            Some('(') => self.list('(', ')').map(Term::Tuple),
            Some('@') => {
                self.pos += 1;
                let sig = self.word().to_string();
                let sig = if sig.is_empty() {
                    // `@a(ss) [...]`: the signature ends where a word cannot go on.
                    self.signature()?
                } else if self.rest().starts_with('(') && sig.ends_with('a') {
                    sig + &self.signature()?
                } else {
                    sig
                };
                complete_type(&sig)?;
                Ok(Term::Typed(sig, Box::new(self.term()?)))
            }
            Some(_) => {
                let w = self.word().to_string();
                match w.as_str() {
                    "" => Err(format!("unexpected {:?}", self.rest())),
                    "true" => Ok(Term::Bool(true)),
                    "false" => Ok(Term::Bool(false)),
                    w if w.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') => {
                        Ok(Term::Number(w.to_string()))
                    }
                    w => match KEYWORDS.iter().find(|(k, _)| *k == w) {
                        Some((_, sig)) => Ok(Term::Typed(sig.to_string(), Box::new(self.term()?))),
                        None => Err(format!("unknown word {w:?}")),
                    },
                }
            }
        }
    }

    /// A parenthesised signature after `@`, as in `@a(ss)`.
    fn signature(&mut self) -> Result<String, String> {
        if !self.rest().starts_with('(') {
            return Err(format!("unexpected {:?} after @", self.rest()));
        }
        let start = self.pos;
        let mut depth = 0;
        for (i, c) in self.rest().char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                self.pos += i + c.len_utf8();
                return Ok(self.s[start..self.pos].to_string());
            }
        }
        Err("unterminated type".into())
    }

    fn list(&mut self, open: char, close: char) -> Result<Vec<Term>, String> {
        self.eat(open);
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.term()?);
            if self.eat(close) {
                return Ok(items);
            }
            if !self.eat(',') {
                return Err(format!("expected ',' or '{close}'"));
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.rest().chars().next().unwrap_or('\'');
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c @ ('\\' | '\'' | '"')) => out.push(c),
                    other => return Err(format!("unknown escape \\{}", other.unwrap_or(' '))),
                },
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }
}

/// The length of the one complete type at the start of `sig`.
fn type_len(sig: &str) -> Result<usize, String> {
    let bad = || format!("unsupported type {sig:?}");
    match sig.as_bytes().first() {
        Some(b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g') => {
            Ok(1)
        }
        Some(b'a') => Ok(1 + type_len(&sig[1..])?),
        Some(b'(') => {
            let mut at = 1;
            while !sig[at..].starts_with(')') {
                if at >= sig.len() {
                    return Err(bad());
                }
                at += type_len(&sig[at..])?;
            }
            Ok(at + 1)
        }
        _ => Err(bad()),
    }
}

fn complete_type(sig: &str) -> Result<(), String> {
    match type_len(sig)? == sig.len() {
        true => Ok(()),
        false => Err(format!("{sig:?} is not one type")),
    }
}

fn is_float(n: &str) -> bool {
    !n.starts_with("0x") && n.contains(['.', 'e', 'E'])
}

/// The type a term takes by itself: a bare integer is int32 and a bare fraction a double,
/// as in GLib; an array takes the type its elements agree on.
fn infer(t: &Term) -> Result<String, String> {
    Ok(match t {
        Term::Number(n) if is_float(n) => "d".into(),
        Term::Number(_) => "i".into(),
        Term::Bool(_) => "b".into(),
        Term::Str(_) => "s".into(),
        Term::Typed(sig, _) => sig.clone(),
        Term::Tuple(items) => {
            let inner: Result<String, String> = items.iter().map(infer).collect();
            format!("({})", inner?)
        }
        Term::Array(items) => {
            // An element with a type of its own decides; else the widest bare number.
            let typed = items.iter().find(|t| matches!(t, Term::Typed(..)));
            let elem = match typed.or(items.first()) {
                None => return Err("an empty array needs a type, as in @as []".into()),
                Some(t) => infer(t)?,
            };
            let elem = match elem.as_str() {
                "i" if items
                    .iter()
                    .any(|t| matches!(t, Term::Number(n) if is_float(n))) =>
                {
                    "d".into()
                }
                _ => elem,
            };
            format!("a{elem}")
        }
    })
}

fn integer<T: TryFrom<i128>>(n: &str) -> Result<T, String> {
    let (neg, digits) = match n.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, n.strip_prefix('+').unwrap_or(n)),
    };
    let v = match digits.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16),
        None => digits.parse::<i128>(),
    }
    .map_err(|_| format!("{n:?} is not an integer"))?;
    T::try_from(if neg { -v } else { v }).map_err(|_| format!("{n} is out of range"))
}

/// `t` as a value of type `sig`.
fn convert(t: &Term, sig: &str) -> Result<Value, String> {
    if let Term::Typed(own, inner) = t {
        if own != sig {
            return Err(format!("a {own} value where {sig} is wanted"));
        }
        return convert(inner, sig);
    }
    let mismatch = || format!("{t:?} is not of type {sig}");
    Ok(match (sig.as_bytes()[0], t) {
        (b'y', Term::Number(n)) => Value::Byte(integer(n)?),
        (b'n', Term::Number(n)) => Value::I16(integer(n)?),
        (b'q', Term::Number(n)) => Value::U16(integer(n)?),
        (b'i', Term::Number(n)) => Value::I32(integer(n)?),
        (b'u', Term::Number(n)) => Value::U32(integer(n)?),
        (b'x', Term::Number(n)) => Value::I64(integer(n)?),
        (b't', Term::Number(n)) => Value::U64(integer(n)?),
        (b'd', Term::Number(n)) => {
            let f: f64 = n.parse().map_err(|_| format!("{n:?} is not a number"))?;
            Value::Double(f.to_bits())
        }
        (b'b', Term::Bool(b)) => Value::Bool(*b),
        (b's', Term::Str(s)) => Value::Str(s.clone()),
        (b'o', Term::Str(s)) => Value::ObjectPath(s.clone()),
        (b'g', Term::Str(s)) => Value::Signature(s.clone()),
        (b'a', Term::Array(items)) => {
            let elem = &sig[1..];
            let items: Result<Vec<Value>, String> =
                items.iter().map(|t| convert(t, elem)).collect();
            Value::Array(elem.to_string(), items?)
        }
        (b'(', Term::Tuple(items)) => {
            let mut fields = Vec::new();
            let mut rest = &sig[1..];
            for item in items {
                let len = type_len(rest).map_err(|_| mismatch())?;
                fields.push(convert(item, &rest[..len])?);
                rest = &rest[len..];
            }
            if rest != ")" {
                return Err(mismatch());
            }
            Value::Struct(fields)
        }
        _ => return Err(mismatch()),
    })
}

/// The value as a number of microseconds, for a property given in seconds.
pub fn seconds_to_usec(v: &Value) -> Result<Value, String> {
    const M: u64 = 1_000_000;
    let whole = |n: i128| {
        u64::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(M))
            .ok_or_else(|| format!("{n} seconds is out of range"))
    };
    let usec = match *v {
        Value::Byte(n) => whole(n.into())?,
        Value::I16(n) => whole(n.into())?,
        Value::U16(n) => whole(n.into())?,
        Value::I32(n) => whole(n.into())?,
        Value::U32(n) => whole(n.into())?,
        Value::I64(n) => whole(n.into())?,
        Value::U64(n) => whole(n.into())?,
        Value::Double(bits) => {
            let f = f64::from_bits(bits) * M as f64;
            if !(0.0..=u64::MAX as f64).contains(&f) {
                return Err(format!("{} seconds is out of range", f64::from_bits(bits)));
            }
            f as u64
        }
        _ => return Err("not a number".into()),
    };
    Ok(Value::U64(usec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Value::*;

    fn ok(s: &str) -> Value {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn scalars_as_glib_types_them() {
        assert_eq!(ok("uint64 123456789"), U64(123456789));
        assert_eq!(ok("'inactive-or-failed'"), Str("inactive-or-failed".into()));
        assert_eq!(ok(r#""it's""#), Str("it's".into()));
        assert_eq!(ok(r"'a\'b\\c'"), Str(r"a'b\c".into()));
        assert_eq!(ok("true"), Bool(true));
        assert_eq!(ok(" false "), Bool(false));
        assert_eq!(ok("42"), I32(42));
        assert_eq!(ok("-7"), I32(-7));
        assert_eq!(ok("1.5"), Double(1.5f64.to_bits()));
        assert_eq!(ok("@t 5"), U64(5));
        assert_eq!(ok("byte 0xff"), Byte(255));
        assert_eq!(ok("int64 -9000000000"), I64(-9000000000));
        assert_eq!(ok("objectpath '/a/b'"), ObjectPath("/a/b".into()));
        assert_eq!(ok("boolean true"), Bool(true));
    }

    #[test]
    fn arrays_and_tuples() {
        assert_eq!(ok("['a', 'b']"), Value::strings(&["a", "b"]));
        assert_eq!(ok("@as []"), Array("s".into(), vec![]));
        assert_eq!(ok("[1, uint64 2]"), Array("t".into(), vec![U64(1), U64(2)]));
        assert_eq!(
            ok("[1, 2.5]"),
            Array(
                "d".into(),
                vec![Double(1f64.to_bits()), Double(2.5f64.to_bits())]
            )
        );
        let pair = |a: &str, b: &str| Struct(vec![Str(a.into()), Str(b.into())]);
        assert_eq!(
            ok("[('/dev/null', 'rw'), ('char-pts', 'rwm')]"),
            Array(
                "(ss)".into(),
                vec![pair("/dev/null", "rw"), pair("char-pts", "rwm")]
            )
        );
        assert_eq!(ok("@a(ss) []"), Array("(ss)".into(), vec![]));
        assert_eq!(ok("(uint32 1, 'x')").signature(), "(us)");
    }

    #[test]
    fn bad_text_is_refused() {
        for bad in [
            "",
            "uint64",
            "uint64 -1",
            "byte 256",
            "int32 2147483648",
            "'open",
            "[]",
            "[1, 'a']",
            "['a',",
            "yes",
            "1 2",
            "@q 'a'",
            "@zz 1",
            "uint64 'a'",
            r"'\q'",
        ] {
            assert!(
                parse(bad).is_err(),
                "{bad:?} was accepted: {:?}",
                parse(bad)
            );
        }
    }

    /// Random text over GVariant's characters (and a multi-byte one) never panics: a
    /// config.json value must give an error, not abort the runtime.
    #[test]
    fn random_text_never_panics() {
        let alphabet: Vec<char> = "'\"\\@[](),: -+.0123456789abeftuxy_qsogdinrmlcp\u{e9}"
            .chars()
            .collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..100_000 {
            let len = next() % 24;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = parse(&text);
        }
        for text in [
            "@", "@a", "@a(", "@(", "@\u{e9}1", "@)", "((", "[[1]]", "[(1)]", "1e",
        ] {
            let _ = parse(text);
        }
    }

    #[test]
    fn seconds_become_microseconds() {
        assert_eq!(seconds_to_usec(&I32(3)), Ok(U64(3_000_000)));
        assert_eq!(
            seconds_to_usec(&Double(1.5f64.to_bits())),
            Ok(U64(1_500_000))
        );
        assert!(seconds_to_usec(&I32(-1)).is_err());
        assert!(seconds_to_usec(&U64(u64::MAX)).is_err());
        assert!(seconds_to_usec(&Str("1".into())).is_err());
    }
}
