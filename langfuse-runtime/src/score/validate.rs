//! Refuses, before anything is queued, the scores the server would reject (§7.2): a caller
//! gets a [`ScoreError`] at the call instead of a 400 in a log line later.

use super::{Draft, ScoreDataType, ScoreError, ScoreValue};

/// Longest TEXT value, in UTF-16 code units: the server checks JavaScript's `length`.
const MAX_TEXT_UNITS: usize = 500;
/// Longest environment name (the rule of `propagate_attributes().environment`).
const MAX_ENVIRONMENT_LEN: usize = 40;

/// `Ok` when the server accepts the score as far as its fields alone tell.
pub(super) fn check(draft: &Draft) -> Result<(), ScoreError> {
    if draft.name.trim().is_empty() {
        return Err(ScoreError::EmptyName);
    }
    let value = draft.value.as_ref().ok_or(ScoreError::MissingValue)?;
    if let ScoreValue::Number(n) = value
        && !n.is_finite()
    {
        return Err(ScoreError::NotFinite(*n));
    }
    if let Some(data_type) = draft.data_type {
        check_type(data_type, value, draft.config_id.is_some())?;
    }
    if let Some(environment) = &draft.environment
        && !valid_environment(environment)
    {
        return Err(ScoreError::InvalidEnvironment(environment.clone()));
    }
    let has_target =
        draft.trace_id.is_some() || draft.session_id.is_some() || draft.dataset_run_id.is_some();
    if draft.explicit && !has_target {
        return Err(ScoreError::MissingTarget);
    }
    Ok(())
}

fn check_type(
    data_type: ScoreDataType,
    value: &ScoreValue,
    has_config: bool,
) -> Result<(), ScoreError> {
    match (data_type, value) {
        (ScoreDataType::Numeric, ScoreValue::Number(_)) => Ok(()),
        (ScoreDataType::Boolean, ScoreValue::Number(n)) if *n == 0.0 || *n == 1.0 => Ok(()),
        (ScoreDataType::Boolean, ScoreValue::Number(n)) => Err(ScoreError::NotBoolean(*n)),
        (ScoreDataType::Text, ScoreValue::String(s)) => {
            let units = s.encode_utf16().count();
            if (1..=MAX_TEXT_UNITS).contains(&units) {
                Ok(())
            } else {
                Err(ScoreError::TextLength(units))
            }
        }
        (ScoreDataType::Correction, ScoreValue::String(_)) if has_config => {
            Err(ScoreError::CorrectionWithConfigId)
        }
        (ScoreDataType::Categorical | ScoreDataType::Correction, ScoreValue::String(_)) => Ok(()),
        (t, _) => Err(ScoreError::WrongValueKind(t)),
    }
}

/// `[a-z0-9_-]+`, at most 40 characters, not starting with `langfuse` (the server's rule).
fn valid_environment(environment: &str) -> bool {
    !environment.is_empty()
        && environment.len() <= MAX_ENVIRONMENT_LEN
        && !environment.starts_with("langfuse")
        && environment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(value: impl Into<ScoreValue>, data_type: Option<ScoreDataType>) -> Draft {
        Draft {
            name: "s".into(),
            value: Some(value.into()),
            data_type,
            trace_id: Some("t".into()),
            explicit: true,
            ..Draft::default()
        }
    }

    #[test]
    fn values_must_match_their_type() {
        use ScoreDataType::*;
        for (value, data_type, expected) in [
            (ScoreValue::Number(0.8), Some(Numeric), Ok(())),
            (ScoreValue::Number(1.0), Some(Boolean), Ok(())),
            (ScoreValue::Number(0.0), Some(Boolean), Ok(())),
            (ScoreValue::Number(0.5), Some(Boolean), Err(ScoreError::NotBoolean(0.5))),
            (ScoreValue::Number(-1.0), Some(Boolean), Err(ScoreError::NotBoolean(-1.0))),
            ("yes".into(), Some(Boolean), Err(ScoreError::WrongValueKind(Boolean))),
            ("0.8".into(), Some(Numeric), Err(ScoreError::WrongValueKind(Numeric))),
            (
                ScoreValue::Number(1.0),
                Some(Categorical),
                Err(ScoreError::WrongValueKind(Categorical)),
            ),
            (ScoreValue::Number(1.0), Some(Text), Err(ScoreError::WrongValueKind(Text))),
            (
                ScoreValue::Number(1.0),
                Some(Correction),
                Err(ScoreError::WrongValueKind(Correction)),
            ),
            ("good".into(), Some(Categorical), Ok(())),
            ("".into(), Some(Text), Err(ScoreError::TextLength(0))),
            ("é".repeat(500).into(), Some(Text), Ok(())),
            ("é".repeat(501).into(), Some(Text), Err(ScoreError::TextLength(501))),
            // An emoji is two UTF-16 units, as the server counts.
            ("🚀".repeat(250).into(), Some(Text), Ok(())),
            ("🚀".repeat(251).into(), Some(Text), Err(ScoreError::TextLength(502))),
            ("fixed".into(), Some(Correction), Ok(())),
            ("anything".into(), None, Ok(())),
            (ScoreValue::Number(f64::NAN), None, Err(ScoreError::NotFinite(f64::NAN))),
        ] {
            let result = check(&draft(value.clone(), data_type));
            // NaN != NaN: compare the error's shape for it.
            match (&result, &expected) {
                (Err(ScoreError::NotFinite(a)), Err(ScoreError::NotFinite(b))) => {
                    assert!(a.is_nan() && b.is_nan());
                }
                _ => assert_eq!(result, expected, "{value:?} as {data_type:?}"),
            }
        }
        let infinite = check(&draft(f64::INFINITY, Some(ScoreDataType::Numeric)));
        assert_eq!(infinite, Err(ScoreError::NotFinite(f64::INFINITY)));
    }

    #[test]
    fn corrections_take_no_config_and_explicit_scores_need_a_target() {
        let mut d = draft("fixed", Some(ScoreDataType::Correction));
        d.config_id = Some("cfg".into());
        assert_eq!(check(&d), Err(ScoreError::CorrectionWithConfigId));
        let mut d = draft(1.0, None);
        d.trace_id = None;
        assert_eq!(check(&d), Err(ScoreError::MissingTarget));
        d.session_id = Some("s".into());
        assert_eq!(check(&d), Ok(()));
        d.session_id = None;
        d.dataset_run_id = Some("r".into());
        assert_eq!(check(&d), Ok(()));
        d.dataset_run_id = None;
        d.explicit = false;
        assert_eq!(check(&d), Ok(()));
    }

    #[test]
    fn names_values_and_environments_are_checked() {
        let mut d = draft(1.0, None);
        d.name = "  ".into();
        assert_eq!(check(&d), Err(ScoreError::EmptyName));
        let mut d = draft(1.0, None);
        d.value = None;
        assert_eq!(check(&d), Err(ScoreError::MissingValue));
        for (environment, ok) in [
            ("production", true),
            ("staging_2-eu", true),
            ("Prod", false),
            ("langfuse-x", false),
            ("", false),
            (&"a".repeat(41), false),
        ] {
            let mut d = draft(1.0, None);
            d.environment = Some(environment.to_owned());
            let expected =
                if ok { Ok(()) } else { Err(ScoreError::InvalidEnvironment(environment.into())) };
            assert_eq!(check(&d), expected, "{environment:?}");
        }
    }
}
