//! The canonical text of a number key: one text per mathematical value.
//!
//! Keys compare as numbers compare in Python's `dict` (which the abstractions
//! users rely on): by exact value, whatever the spelling. `1`, `1.0`, `1e0`
//! and `10e-1` are one key, `-0`, `0` and `0.0` are one key, and
//! `10000000000000000000000` and `10000000000000000000001` are two. The
//! canonical text is computed from the number's text, digit by digit, never
//! through an `f64` (which holds neither of those two integers exactly), so
//! `1e400` is a key like any other.
//!
//! A value `±D × 10^e`, with `D` its significant digits (no leading or
//! trailing zero), is written as a plain integer (`-1200`) when it is an
//! integer of at most [`PLAIN_DIGITS`] digits, else as `±De<e>` (`1e22`,
//! `15e-1`); zero is `0`. Each value has exactly one such text. The plain
//! form is the text JSON gives those integers, so the key of a short integer
//! is its text, copied without being read here (the fast path of
//! [`canonical_raw`](super::key_ids::canonical_raw)).

/// Digits of the integers whose canonical text is their plain JSON text:
/// as many as the fast path copies unread.
pub(crate) const PLAIN_DIGITS: usize = 18;

/// Writes the canonical text of the JSON number `text` to `out`, or returns
/// `false` and writes nothing if `text` is not a JSON number (RFC 8259:
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, nothing around it).
pub(crate) fn write_canonical(text: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(number) = Parsed::of(text) else {
        return false;
    };
    number.write(out);
    true
}

/// A JSON number's text, cut into its parts.
#[derive(Debug)]
struct Parsed<'a> {
    negative: bool,
    /// The digits before the point, then those after it.
    int: &'a [u8],
    frac: &'a [u8],
    /// The exponent's sign and digits, as written (`0` when absent).
    exp_negative: bool,
    exp: &'a [u8],
}

impl<'a> Parsed<'a> {
    fn of(text: &'a [u8]) -> Option<Parsed<'a>> {
        let (negative, rest) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let int_len = digits(rest);
        let (int, mut rest) = rest.split_at(int_len);
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return None;
        }
        let mut frac: &[u8] = &[];
        if let Some((b'.', after)) = rest.split_first() {
            let len = digits(after);
            if len == 0 {
                return None;
            }
            (frac, rest) = after.split_at(len);
        }
        let (mut exp_negative, mut exp): (bool, &[u8]) = (false, b"0");
        if let Some((b'e' | b'E', after)) = rest.split_first() {
            let after = match after.split_first() {
                Some((b'-', after)) => {
                    exp_negative = true;
                    after
                }
                Some((b'+', after)) => after,
                _ => after,
            };
            let len = digits(after);
            if len == 0 {
                return None;
            }
            (exp, rest) = after.split_at(len);
        }
        rest.is_empty().then_some(Parsed {
            negative,
            int,
            frac,
            exp_negative,
            exp,
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        // The significant digits, across the point: `int ++ frac` without
        // its leading and trailing zeros.
        let all = || self.int.iter().chain(self.frac).copied();
        let total = self.int.len() + self.frac.len();
        let leading = all().take_while(|&d| d == b'0').count();
        if leading == total {
            out.push(b'0');
            return;
        }
        let trailing = all().rev().take_while(|&d| d == b'0').count();
        let significant = all().skip(leading).take(total - leading - trailing);
        // value = significant × 10^(exp − frac.len() + trailing)
        let shift = trailing as i128 - self.frac.len() as i128;
        let exponent = Exponent::new(self.exp_negative, self.exp, shift);
        if self.negative {
            out.push(b'-');
        }
        let count = total - leading - trailing;
        out.extend(significant);
        match exponent {
            Exponent::Small(e) if e >= 0 && count as i128 + e <= PLAIN_DIGITS as i128 => {
                out.extend(std::iter::repeat_n(b'0', e as usize));
            }
            Exponent::Small(e) => {
                out.push(b'e');
                out.extend_from_slice(e.to_string().as_bytes());
            }
            Exponent::Big { negative, digits } => {
                out.push(b'e');
                if negative {
                    out.push(b'-');
                }
                out.extend_from_slice(&digits);
            }
        }
    }
}

/// The power of ten of a value's significant digits: the written exponent
/// plus a shift that the text's length bounds.
#[derive(Debug, PartialEq, Eq)]
enum Exponent {
    Small(i128),
    /// An exponent of more than [`SMALL_EXPONENT`] digits, as digits without
    /// leading zeros.
    Big {
        negative: bool,
        digits: Vec<u8>,
    },
}

/// Digits of the written exponents added to the shift as integers. Longer
/// ones (a number such as `1e1000000000000000000000000000000000000000`) are
/// added as text: no `i128` holds them.
const SMALL_EXPONENT: usize = 30;

impl Exponent {
    /// `±written + shift`, where `written` is an exponent's digits.
    fn new(negative: bool, written: &[u8], shift: i128) -> Exponent {
        let zeros = written.iter().take_while(|&&d| d == b'0').count();
        let written = &written[zeros..];
        if written.len() <= SMALL_EXPONENT {
            let magnitude = written
                .iter()
                .fold(0i128, |n, &d| n * 10 + i128::from(d - b'0'));
            return Exponent::Small(if negative { -magnitude } else { magnitude } + shift);
        }
        // |written| ≥ 10^30 exceeds any shift (which is at most the length of
        // a text in memory), so the sum has written's sign and the magnitude
        // |written| + shift, or |written| − shift, depending on the signs.
        let towards_zero = (shift < 0) != negative;
        let digits = add_to_digits(written, shift.unsigned_abs(), towards_zero);
        Exponent::Big { negative, digits }
    }
}

/// The decimal digits of `digits ± n` (minus if `subtract`), without leading
/// zeros; `digits` must be above `n` when subtracting.
fn add_to_digits(digits: &[u8], mut n: u128, subtract: bool) -> Vec<u8> {
    let mut out = digits.to_vec();
    let mut carry = 0u8;
    for d in out.iter_mut().rev() {
        if n == 0 && carry == 0 {
            break;
        }
        let step = (n % 10) as u8 + carry;
        n /= 10;
        let value = d.wrapping_sub(b'0');
        (*d, carry) = if subtract {
            if value >= step {
                (b'0' + value - step, 0)
            } else {
                (b'0' + value + 10 - step, 1)
            }
        } else {
            let sum = value + step;
            (b'0' + sum % 10, sum / 10)
        };
    }
    if carry > 0 {
        out.insert(0, b'0' + carry);
    }
    let zeros = out.iter().take_while(|&&d| d == b'0').count();
    out.drain(..zeros);
    out
}

/// How many ASCII digits `text` starts with.
fn digits(text: &[u8]) -> usize {
    text.iter().take_while(|d| d.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn canonical(text: &str) -> Option<String> {
        let mut out = Vec::new();
        write_canonical(text.as_bytes(), &mut out).then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn each_value_has_one_text() {
        for (texts, expected) in [
            (
                &["1", "1.0", "1e0", "10e-1", "0.1e1", "1E+0", "1.000e000"][..],
                "1",
            ),
            (&["0", "-0", "0.0", "-0.0", "0e5", "-0E-7", "0.000"], "0"),
            (&["100", "1e2", "1E2", "0.001e5", "100.00"], "100"),
            (&["-1.5", "-15e-1", "-0.15E+1"], "-15e-1"),
            (&["10000000000000000000000", "1e22", "10E21"], "1e22"),
            (&["10000000000000000000001"], "10000000000000000000001e0"),
            (&["123456789012345678"], "123456789012345678"),
            (
                &["1234567890123456789", "1.234567890123456789e18"],
                "1234567890123456789e0",
            ),
            (&["100000000000000000", "1e17"], "100000000000000000"),
            (&["1000000000000000000", "1e18"], "1e18"),
            (&["1e400", "0.1e401", "10E399"], "1e400"),
            (&["1.000000000000000000001"], "1000000000000000000001e-21"),
            (&["-1e-400"], "-1e-400"),
        ] {
            for text in texts {
                assert_eq!(canonical(text).as_deref(), Some(expected), "{text}");
            }
        }
    }

    /// The plain form is exactly the JSON text of the integers the fast
    /// path copies unread.
    #[test]
    fn a_short_integer_is_its_own_text() {
        for text in [
            "7",
            "-7",
            "10",
            "-120",
            "999999999999999999",
            "-100000000000000000",
        ] {
            assert_eq!(canonical(text).as_deref(), Some(text));
        }
    }

    #[test]
    fn exponents_beyond_any_integer_type_are_added_as_text() {
        let huge = "1000000000000000000000000000000000000000";
        let one_less = "999999999999999999999999999999999999999";
        assert_eq!(canonical(&format!("1e{huge}")), Some(format!("1e{huge}")));
        assert_eq!(
            canonical(&format!("10e{one_less}")),
            Some(format!("1e{huge}"))
        );
        assert_eq!(
            canonical(&format!("0.1e{huge}")),
            Some(format!("1e{one_less}"))
        );
        assert_eq!(
            canonical(&format!("-1E-{huge}")),
            Some(format!("-1e-{huge}"))
        );
        assert_eq!(
            canonical(&format!("10e-{huge}")),
            Some(format!("1e-{one_less}"))
        );
        assert_eq!(
            canonical(&format!("0.1e-{one_less}")),
            Some(format!("1e-{huge}"))
        );
        assert_eq!(
            canonical(&format!("1e0000{huge}")),
            Some(format!("1e{huge}"))
        );
        assert_ne!(
            canonical(&format!("1e{huge}")),
            canonical(&format!("1e{one_less}"))
        );
    }

    #[test]
    fn text_that_is_not_a_json_number_is_refused() {
        for text in [
            "", "-", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "1x", " 1", "1 ", "0x10", "1.5.5",
            "NaN", "\"1\"", "--1", "1e5.5",
        ] {
            assert_eq!(canonical(text), None, "{text:?}");
        }
    }

    /// A number as the oracle sees it: `±mantissa × 10^exponent`, the
    /// mantissa as decimal digits.
    #[derive(Debug, Clone)]
    struct Exact {
        negative: bool,
        mantissa: String,
        exponent: i64,
    }

    impl Exact {
        /// Reads a JSON number text (exponents small enough for an `i64`).
        fn of(text: &str) -> Exact {
            let (negative, rest) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let (number, exponent) = match rest.find(['e', 'E']) {
                Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().unwrap()),
                None => (rest, 0),
            };
            let (int, frac) = number.split_once('.').unwrap_or((number, ""));
            Exact {
                negative,
                mantissa: format!("{int}{frac}"),
                exponent: exponent - frac.len() as i64,
            }
        }

        /// Equality by aligning the two exponents (appending zeros to the
        /// mantissa with the larger one) and comparing the integers: the
        /// other way round from the code under test, which strips zeros.
        fn same_value(&self, other: &Exact) -> bool {
            let low = self.exponent.min(other.exponent);
            let aligned = |x: &Exact| {
                let digits = format!("{}{}", x.mantissa, "0".repeat((x.exponent - low) as usize));
                digits.trim_start_matches('0').to_owned()
            };
            let (a, b) = (aligned(self), aligned(other));
            a == b && (a.is_empty() || self.negative == other.negative)
        }
    }

    /// A value: sign, significant digits (a few, or many) and a power of ten.
    fn value() -> impl Strategy<Value = Exact> {
        (
            any::<bool>(),
            prop_oneof!["0", "[1-9]", "[1-9][0-9]{0,5}[1-9]", "[1-9][0-9]{17,40}"],
            -60i64..60,
        )
            .prop_map(|(negative, mantissa, exponent)| Exact {
                negative,
                mantissa,
                exponent,
            })
    }

    /// One of the many JSON texts of `value`: zeros added to the mantissa,
    /// the point anywhere, any exponent spelling (`e`/`E`, `+`, leading
    /// zeros) or none.
    fn spelling(value: Exact) -> impl Strategy<Value = String> {
        (0usize..4, 0usize..60, any::<bool>(), 0usize..6, 0usize..3).prop_map(
            move |(zeros, point, leading_zero, style, exp_zeros)| {
                let digits = format!("{}{}", value.mantissa, "0".repeat(zeros));
                let exponent = value.exponent - zeros as i64;
                // Either `0.digits`, or `di.gits` with the point after at least one digit.
                let (int, frac) = if leading_zero || value.mantissa == "0" {
                    ("0".to_owned(), digits.clone())
                } else {
                    let at = 1 + point % digits.len();
                    (digits[..at].to_owned(), digits[at..].to_owned())
                };
                let written = exponent + frac.len() as i64;
                let sign = if value.negative { "-" } else { "" };
                let point = if frac.is_empty() {
                    String::new()
                } else {
                    format!(".{frac}")
                };
                let pad = "0".repeat(exp_zeros);
                let (minus, abs) = (if written < 0 { "-" } else { "" }, written.abs());
                let exp = match style {
                    0 if written == 0 => String::new(),
                    0 | 1 => format!("e{minus}{pad}{abs}"),
                    2 => format!("E{}{pad}{abs}", if written < 0 { "-" } else { "+" }),
                    3 => format!("E{minus}{pad}{abs}"),
                    _ => format!("e{}{abs}", if written < 0 { "-" } else { "+" }),
                };
                format!("{sign}{int}{point}{exp}")
            },
        )
    }

    proptest! {
        /// Two spellings of one value have one canonical text.
        #[test]
        fn spellings_of_one_value_are_one_key(
            (a, b) in value().prop_flat_map(|v| (spelling(v.clone()), spelling(v)))
        ) {
            prop_assert!(Exact::of(&a).same_value(&Exact::of(&b)), "oracle: {} {}", a, b);
            prop_assert_eq!(canonical(&a), canonical(&b), "{} vs {}", a, b);
            prop_assert!(canonical(&a).is_some());
        }

        /// Any two numbers have one canonical text exactly when the oracle
        /// finds them equal: near values (one digit apart, one power of ten
        /// apart, opposite signs) as well as unrelated ones.
        #[test]
        fn two_numbers_are_one_key_exactly_when_their_values_are_equal(
            (a, b) in value().prop_flat_map(|v| {
                let near = (0usize..4).prop_map({
                    let v = v.clone();
                    move |change| {
                        let mut w = v.clone();
                        match change {
                            0 => w.negative = !w.negative,
                            1 => w.exponent += 1,
                            2 => {
                                let last = w.mantissa.pop().unwrap();
                                w.mantissa.push(if last == '9' { '8' } else { (last as u8 + 1) as char });
                            }
                            _ => w.mantissa.push('1'),
                        }
                        w
                    }
                });
                (spelling(v), prop_oneof![near, value()].prop_flat_map(spelling))
            })
        ) {
            let equal = Exact::of(&a).same_value(&Exact::of(&b));
            prop_assert_eq!(canonical(&a) == canonical(&b), equal, "{} vs {}", a, b);
        }

        /// What `serde_json` parses as a number is a number here, and the
        /// other way round.
        #[test]
        fn a_text_is_a_number_exactly_when_serde_json_reads_one(
            text in r"-?[0-9]{0,3}(\.[0-9]{0,2})?([eE][-+]?[0-9]{0,3})?[x ]?"
        ) {
            let json = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok()
                && !text.ends_with(' ')
                && !text.is_empty();
            prop_assert_eq!(canonical(&text).is_some(), json, "{:?}", text);
        }
    }
}
