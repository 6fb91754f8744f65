//! The op lines hesim itself writes, both ways: flat objects of integers, integer arrays,
//! escape-free strings and `plain` objects. The scanner is several times faster than serde's
//! generic path; anything it does not recognise (escapes, floats, `boot`, `end`, unknown or
//! repeated keys) returns `None` and the caller falls back to serde_json, which also produces the
//! exact error message, so the fast path never changes what is accepted or rejected. The
//! formatter writes exactly serde_json's bytes for the same shapes (and defers the rest), so
//! traces do not depend on which path wrote them.

use std::borrow::Cow;

use crate::op::{Op, OpKind, OpName, PlainRef, WireLine};

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

    /// A string with no escapes and no control bytes (JSON forbids raw U+0000..U+001F in
    /// strings; serde_json rejects them, so the fast path must not accept them).
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let len = self.s[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
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
        // serde_json reads `-0` as the float −0.0, which no integer field accepts.
        if neg && v == 0 {
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

/// Appends `v` in decimal, as serde_json writes integers.
fn push_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = v.unsigned_abs();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Appends `"key":` and `v`, after a comma.
fn push_field(out: &mut Vec<u8>, key: &str, v: i64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    push_int(out, v);
}

/// Appends `op` as serde_json writes its [`WireLine`] (no newline), or returns `None` without
/// writing for the shapes left to serde: `bootstrap` ops and layer names that need escapes.
pub(crate) fn format_op_line(op: &Op, out: &mut Vec<u8>) -> Option<()> {
    // the attributes, in `WireLine` order; every kind is listed so that a new attribute
    // cannot be dropped silently
    let (plain, step, hoist) = match op.kind {
        OpKind::AddPlain { plain } | OpKind::MulPlain { plain } => (Some(plain), None, None),
        OpKind::Rotate { step, hoist } => (None, Some(step), hoist),
        OpKind::Conjugate { hoist } => (None, None, hoist),
        OpKind::Bootstrap(_) => return None,
        OpKind::Input
        | OpKind::Output
        | OpKind::Add
        | OpKind::Sub
        | OpKind::AddConst
        | OpKind::MulConst
        | OpKind::Mul
        | OpKind::Relin
        | OpKind::Rescale
        | OpKind::LevelDown
        | OpKind::ModRaise => (None, None, None),
    };
    // serde_json escapes control characters, quotes and backslashes, nothing else
    let plain_layer = op
        .layer
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if !plain_layer {
        return None;
    }
    out.extend_from_slice(b"{\"id\":");
    push_int(out, op.id.into());
    out.extend_from_slice(b",\"op\":\"");
    out.extend_from_slice(op.kind.name().as_str().as_bytes());
    out.extend_from_slice(b"\",\"args\":[");
    for (k, &arg) in op.args.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        push_int(out, arg.into());
    }
    out.push(b']');
    push_field(out, "level", op.level.into());
    out.extend_from_slice(b",\"layer\":\"");
    out.extend_from_slice(op.layer.as_bytes());
    out.push(b'"');
    if let Some(plain) = plain {
        out.extend_from_slice(b",\"plain\":{\"id\":");
        push_int(out, plain.id.into());
        push_field(out, "level", plain.level.into());
        out.push(b'}');
    }
    if let Some(step) = step {
        push_field(out, "step", step.into());
    }
    if let Some(hoist) = hoist {
        push_field(out, "hoist", hoist.into());
    }
    out.push(b'}');
    Some(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::op::BootstrapParams;

    /// The formatter writes serde_json's bytes (the reference) for every op it takes, and
    /// defers exactly the bootstrap ops and layer names needing escapes.
    #[test]
    fn formats_like_serde_or_defers() {
        let layer = |s: &str| Arc::<str>::from(s);
        let mut ops = crate::synthetic::generate(5_000, 3);
        let extremes = [
            (OpKind::Input, vec![], "é 層 x"),
            (
                OpKind::Rotate {
                    step: i32::MIN,
                    hoist: Some(u32::MAX),
                },
                vec![u32::MAX],
                "",
            ),
            (
                OpKind::Rotate {
                    step: -1,
                    hoist: None,
                },
                vec![0],
                "~\u{7f}",
            ),
            (OpKind::Conjugate { hoist: Some(0) }, vec![7], "c"),
            (OpKind::Conjugate { hoist: None }, vec![7], "c"),
            (
                OpKind::MulPlain {
                    plain: PlainRef {
                        id: u32::MAX,
                        level: 0,
                    },
                },
                vec![10],
                "p",
            ),
            (OpKind::Add, vec![0, 1], "a\"b"),
            (OpKind::Add, vec![0, 1], "a\\b"),
            (OpKind::Add, vec![0, 1], "tab\t"),
            (
                OpKind::Bootstrap(BootstrapParams {
                    slots: 8,
                    cts_levels: 3,
                    stc_levels: 3,
                    eval_mod_degree: 63,
                    double_angle: 2,
                    hoisting: Default::default(),
                    key_reuse: false,
                    baby_step: 0,
                    double_prime_scaling: false,
                    eval_mod_range: crate::LEGACY_EVAL_MOD_RANGE,
                }),
                vec![3],
                "b",
            ),
        ];
        for (kind, args, name) in extremes {
            ops.push(Op::new(u32::MAX, kind, args, 1, layer(name)));
        }
        let mut deferred = 0;
        for op in &ops {
            let mut fast = Vec::new();
            let serde = serde_json::to_string(&WireLine::from_op(op)).unwrap();
            match format_op_line(op, &mut fast) {
                Some(()) => assert_eq!(String::from_utf8(fast).unwrap(), serde),
                None => {
                    assert!(fast.is_empty(), "{serde}");
                    assert!(
                        serde.contains("\"boot\"") || serde.contains('\\'),
                        "needlessly deferred: {serde}"
                    );
                    deferred += 1;
                }
            }
        }
        assert!(deferred >= 4, "the escape and bootstrap cases must defer");
    }

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
    /// SplitMix64: a tiny deterministic generator for the mutations (no dependency needed).
    struct Mix(u64);

    impl Mix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// One random edit of `line`: a byte replaced, inserted or deleted, a span duplicated, or
    /// a token from JSON's alphabet (and the known traps: control bytes, `-0`) spliced in.
    fn mutate(line: &mut Vec<u8>, rng: &mut Mix) {
        const BYTES: &[u8] =
            b"0123456789-+.eE\"\\{}[],: \t\r\x00\x01\x1f\x7f\xc3\xa9\xffadilnoprstuvxyz";
        const TOKENS: &[&str] = &[
            "-0",
            "-",
            "0",
            "01",
            "4294967295",
            "4294967296",
            "-2147483648",
            "1e3",
            "1.0",
            "null",
            "true",
            "\"id\":",
            "\"step\":-0,",
            "\"hoist\":",
            "\"level\":0,",
            "\"layer\":\"\\u0041\",",
            "\"plain\":{\"id\":-0,\"level\":1},",
            "\t",
            "\u{1b}",
            "\u{7f}",
            "é",
        ];
        let at = rng.below(line.len() + 1);
        match rng.below(9) {
            // edits that keep most lines valid, so both outcomes are exercised
            6 | 7 if at < line.len() && line[at].is_ascii_digit() => {
                line[at] = b'0' + rng.below(10) as u8;
            }
            8 => line.insert(at, b' '),
            0 if at < line.len() => line[at] = BYTES[rng.below(BYTES.len())],
            1 => line.insert(at, BYTES[rng.below(BYTES.len())]),
            2 if at < line.len() => {
                line.remove(at);
            }
            3 => {
                let end = (at + 1 + rng.below(8)).min(line.len());
                let span = line[at..end].to_vec();
                let to = rng.below(line.len() + 1);
                line.splice(to..to, span);
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                line.splice(at..at, token.iter().copied());
            }
        }
    }

    /// One definition of a valid op line: on mutated lines (1–4 edits of writer output and
    /// hand-written shapes), whenever the fast scanner accepts a line, serde_json (the reference
    /// parser) accepts it too, with the same value. `HESIM_FASTPATH_LINES` sets the number of
    /// lines (20,000 by default; the documented run is
    /// `HESIM_FASTPATH_LINES=1000000 cargo test --release -p hesim-traces --lib mutated_lines`).
    #[test]
    fn accepts_only_what_serde_accepts_on_mutated_lines() {
        let count: u64 = std::env::var("HESIM_FASTPATH_LINES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let mut seeds: Vec<Vec<u8>> = crate::synthetic::generate(2_000, 7)
            .iter()
            .map(|op| serde_json::to_vec(&WireLine::from_op(op)).unwrap())
            .collect();
        seeds.push(br#"{"id":1,"op":"mul_plain","args":[0],"plain":{"id":7,"level":2},"level":2,"layer":"x"}"#.to_vec());
        seeds.push(
            br#"{ "id" : 9 , "op":"rotate","args":[2],"level":3,"layer":"r","step":-4,"hoist":1 }"#
                .to_vec(),
        );
        let mut rng = Mix(17);
        let (mut both, mut rejected) = (0u64, 0u64);
        for _ in 0..count {
            let mut line = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut line, &mut rng);
            }
            let reference = serde_json::from_slice::<WireLine<'_>>(&line).map(|w| format!("{w:?}"));
            match parse_op_line(&line) {
                Some(fast) => {
                    assert_eq!(
                        Ok(format!("{fast:?}")),
                        reference.as_ref().map_err(|_| ()).cloned(),
                        "fast path accepted {:?}",
                        String::from_utf8_lossy(&line)
                    );
                    both += 1;
                }
                None => rejected += u64::from(reference.is_err()),
            }
        }
        // Both outcomes must be exercised, or the test proves nothing.
        assert!(
            both > count / 20 && rejected > count / 20,
            "{both} accepted, {rejected} rejected"
        );
        eprintln!(
            "{count} mutated lines: {both} accepted by both paths, {rejected} rejected by serde"
        );
    }

    /// The two reproducers of issue #17: a raw tab in a string and `"id":-0`.
    #[test]
    fn control_bytes_and_negative_zero_go_to_serde() {
        for line in [
            "{\"id\":0,\"op\":\"input\",\"args\":[],\"level\":2,\"layer\":\"a\tb\"}",
            r#"{"id":-0,"op":"input","args":[],"level":2,"layer":"in"}"#,
            r#"{"id":3,"op":"rotate","args":[2],"level":2,"layer":"in","step":-0}"#,
        ] {
            assert!(parse_op_line(line.as_bytes()).is_none(), "{line}");
            assert!(
                serde_json::from_str::<WireLine<'_>>(line).is_err(),
                "{line}"
            );
        }
    }
}
