//! A scanner for the op lines hesim itself writes: flat objects of integers, integer arrays,
//! escape-free strings and `plain` objects. It is several times faster than serde's generic
//! path; anything it does not recognise (escapes, floats, `boot`, `end`, unknown or repeated
//! keys) returns `None` and the caller falls back to serde_json, which also produces the exact
//! error message, so the fast path never changes what is accepted or rejected.

use std::borrow::Cow;

use crate::op::{OpName, PlainRef, WireLine};

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t') {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    /// A string with no escapes.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let len = self.s[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\')?;
        if self.s[start + len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        std::str::from_utf8(&self.s[start..start + len]).ok()
    }

    fn int(&mut self) -> Option<i64> {
        self.ws();
        let neg = self.s.get(self.i) == Some(&b'-');
        if neg {
            self.i += 1;
        }
        let start = self.i;
        let mut v: i64 = 0;
        while let Some(&b) = self.s.get(self.i) {
            if !b.is_ascii_digit() {
                break;
            }
            v = v.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        // JSON forbids leading zeros; floats and exponents go to the slow path.
        if digits == 0 || (digits > 1 && self.s[start] == b'0') {
            return None;
        }
        if matches!(self.s.get(self.i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(if neg { -v } else { v })
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.int()?).ok()
    }

    fn u32_array(&mut self) -> Option<Vec<u32>> {
        self.eat(b'[')?;
        let mut out = Vec::with_capacity(2);
        if self.eat(b']').is_some() {
            return Some(out);
        }
        loop {
            out.push(self.u32()?);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }

    fn plain(&mut self) -> Option<PlainRef> {
        self.eat(b'{')?;
        let (mut id, mut level) = (None, None);
        loop {
            match self.string()? {
                "id" if id.is_none() => {
                    self.eat(b':')?;
                    id = Some(self.u32()?);
                }
                "level" if level.is_none() => {
                    self.eat(b':')?;
                    level = Some(self.u32()?);
                }
                _ => return None,
            }
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(PlainRef {
                        id: id?,
                        level: level?,
                    });
                }
                _ => return None,
            }
        }
    }
}

fn op_name(s: &str) -> Option<OpName> {
    OpName::ALL.into_iter().find(|n| n.as_str() == s)
}

/// Parses an op line in the shapes hesim writes, or returns `None` for the serde path.
pub(crate) fn parse_op_line(line: &[u8]) -> Option<WireLine<'_>> {
    let mut sc = Scanner { s: line, i: 0 };
    let mut w = WireLine::default();
    sc.eat(b'{')?;
    loop {
        let key = sc.string()?;
        sc.eat(b':')?;
        match key {
            "id" if w.id.is_none() => w.id = Some(sc.u32()?),
            "op" if w.op.is_none() => w.op = Some(op_name(sc.string()?)?),
            "args" if w.args.is_none() => w.args = Some(sc.u32_array()?),
            "level" if w.level.is_none() => w.level = Some(sc.u32()?),
            "layer" if w.layer.is_none() => w.layer = Some(Cow::Borrowed(sc.string()?)),
            "plain" if w.plain.is_none() => w.plain = Some(sc.plain()?),
            "step" if w.step.is_none() => w.step = Some(i32::try_from(sc.int()?).ok()?),
            "hoist" if w.hoist.is_none() => w.hoist = Some(sc.u32()?),
            _ => return None,
        }
        match sc.peek()? {
            b',' => sc.i += 1,
            b'}' => {
                sc.i += 1;
                sc.ws();
                return (sc.i == line.len()).then_some(w);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_parse(line: &str) -> Option<String> {
        serde_json::from_str::<WireLine<'_>>(line)
            .ok()
            .map(|w| format!("{w:?}"))
    }

    /// The fast path agrees with serde (the reference) on every line it accepts, on the writer's
    /// output and on hand-made variants.
    #[test]
    fn agrees_with_serde_or_defers() {
        let mut lines: Vec<String> = crate::synthetic::generate(5_000, 3)
            .iter()
            .map(|op| serde_json::to_string(&WireLine::from_op(op)).unwrap())
            .collect();
        lines.extend(
            [
                r#"{ "id" : 1 , "op" : "add", "args" : [ 0 , 0 ], "level": 3, "layer": "x" } "#,
                r#"{"layer":"x","level":3,"args":[2],"op":"rotate","step":-4096,"id":9}"#,
                r#"{"id":1,"op":"mul_plain","args":[0],"plain":{"level":2,"id":7},"level":2,"layer":"x"}"#,
            ]
            .map(String::from),
        );
        for line in &lines {
            let fast = parse_op_line(line.as_bytes()).map(|w| format!("{w:?}"));
            // `boot` objects are rare and left to serde.
            if line.contains("\"boot\"") {
                assert!(fast.is_none(), "{line}");
                continue;
            }
            assert!(fast.is_some(), "canonical line deferred: {line}");
            assert_eq!(fast, serde_parse(line), "{line}");
        }
        let deferred = [
            r#"{"id":1,"op":"add","args":[0,0],"level":3,"layer":"a\"b"}"#,
            r#"{"id":1,"id":2,"op":"add","args":[0,0],"level":3,"layer":"x"}"#,
            r#"{"id":01,"op":"add","args":[0,0],"level":3,"layer":"x"}"#,
            r#"{"id":1.0,"op":"add","args":[0,0],"level":3,"layer":"x"}"#,
            r#"{"id":1,"op":"fma","args":[0,0],"level":3,"layer":"x"}"#,
            r#"{"id":1,"op":"add","args":[0,0],"level":3,"layer":"x","colour":1}"#,
            r#"{"id":1,"op":"add","args":[0,0],"level":3,"layer":"x"} trailing"#,
            r#"{"id":99999999999,"op":"add","args":[0,0],"level":3,"layer":"x"}"#,
            r#"{"end":{"ops":3}}"#,
        ];
        for line in deferred {
            assert!(parse_op_line(line.as_bytes()).is_none(), "{line}");
        }
    }
}
