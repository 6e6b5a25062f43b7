//! Strict query-string parsing: every parameter is validated, unknown ones are refused, and
//! each failure names the parameter (`{"error":"INVALID_PARAMETER","field":...}`).

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;

use crate::domain::{Bbox, Category, Day, TimeWindow};

use super::error::ApiError;

/// Parsed query parameters: each name at most once.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid("query", "unreadable query string"))?;
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded_pairs(raw.as_deref().unwrap_or("")) {
            let (k, v) = (k?, v?);
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::invalid(k, "given more than once"));
            }
        }
        Ok(Params(map))
    }
}

/// Splits `a=b&c=d`, percent-decoding names and values.
fn form_urlencoded_pairs(
    q: &str,
) -> impl Iterator<Item = (Result<String, ApiError>, Result<String, ApiError>)> + '_ {
    q.split('&').filter(|s| !s.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k, "query"), decode(v, k))
    })
}

fn decode(s: &str, field: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::invalid(field, "bad percent-encoding"))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::invalid(field, "not UTF-8"))
}

impl Params {
    /// Refuses any parameter not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::invalid(
                k.clone(),
                format!("unknown parameter; allowed: {}", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// The raw value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An optional bbox.
    pub fn bbox(&self) -> Result<Option<Bbox>, ApiError> {
        self.get("bbox")
            .map(|v| {
                v.parse::<Bbox>()
                    .map_err(|e| ApiError::invalid("bbox", e.to_string()))
            })
            .transpose()
    }

    /// An optional category slug.
    pub fn category(&self) -> Result<Option<Category>, ApiError> {
        self.get("category")
            .map(|v| {
                v.parse::<Category>().map_err(|_| {
                    ApiError::invalid("category", format!("{v:?} is not a known category"))
                })
            })
            .transpose()
    }

    /// The window from `from` and `to` (inclusive days), each defaulting to `default`'s end.
    pub fn window(&self, default: TimeWindow) -> Result<TimeWindow, ApiError> {
        let day = |name: &'static str| -> Result<Option<Day>, ApiError> {
            self.get(name)
                .map(|v| {
                    v.parse::<Day>()
                        .map_err(|e| ApiError::invalid(name, e.to_string()))
                })
                .transpose()
        };
        let from = day("from")?.unwrap_or(default.from());
        let to = day("to")?.unwrap_or(default.to());
        TimeWindow::new(from, to)
            .map_err(|_| ApiError::invalid("from", format!("from {from} is after to {to}")))
    }

    /// An integer in `range`, or `default`.
    pub fn int_in(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => {
                let n: u64 = v
                    .parse()
                    .map_err(|_| ApiError::invalid(name, format!("{v:?} is not a whole number")))?;
                if range.contains(&n) {
                    Ok(n)
                } else {
                    Err(ApiError::invalid(
                        name,
                        format!("{n} is not in {}..={}", range.start(), range.end()),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Result<Params, ApiError> {
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded_pairs(q) {
            map.insert(k?, v?);
        }
        Ok(Params(map))
    }

    #[test]
    fn percent_encoded_values_are_decoded() {
        let p = params("bbox=-2.7%2C51.4%2C-2.5%2C51.5&category=violent-crime").unwrap();
        assert_eq!(
            p.bbox().unwrap().unwrap().to_string(),
            "-2.7,51.4,-2.5,51.5"
        );
        assert_eq!(p.category().unwrap(), Some(Category::ViolentCrime));
    }

    #[test]
    fn every_bad_value_names_its_parameter() {
        let cases = [
            ("bbox=1,2,3", "bbox"),
            ("category=gangs", "category"),
            ("from=2024-02-30", "from"),
            ("to=yesterday", "to"),
            ("from=2024-03-01&to=2024-02-01", "from"),
            ("res=abc", "res"),
            ("res=11", "res"),
            ("bbox=%zz", "bbox"),
        ];
        for (q, field) in cases {
            let err = params(q).and_then(|p| {
                p.bbox()?;
                p.category()?;
                p.window(TimeWindow::all())?;
                p.int_in("res", 5..=10, 8)?;
                Ok(())
            });
            match err {
                Err(ApiError::InvalidParameter { field: f, .. }) => assert_eq!(f, field, "{q}"),
                other => panic!("{q}: expected a 400 on {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let p = params("catgory=drugs").unwrap();
        assert!(
            matches!(p.only(&["category"]), Err(ApiError::InvalidParameter { field, .. }) if field == "catgory")
        );
    }
}
