//! Validation of what people type into account forms.
//!
//! The same functions run in the browser (instant feedback beside the field) and on the server
//! (the check that counts). Each returns the normalised value to store, or a message that tells
//! the user what to fix.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A form field that a message can be shown beside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Username,
    DisplayName,
    Email,
    Password,
    Phone,
    TimeZone,
    Role,
    Title,
    Description,
    Kind,
    Start,
    Duration,
    Capacity,
    Recurrence,
    Enrolment,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Username => "username",
            Field::DisplayName => "display_name",
            Field::Email => "email",
            Field::Password => "password",
            Field::Phone => "phone",
            Field::TimeZone => "time_zone",
            Field::Role => "role",
            Field::Title => "title",
            Field::Description => "description",
            Field::Kind => "kind",
            Field::Start => "start",
            Field::Duration => "duration",
            Field::Capacity => "capacity",
            Field::Recurrence => "recurrence",
            Field::Enrolment => "enrolment",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with one field, in words for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: Field,
    pub message: String,
}

impl FieldError {
    pub fn new(field: Field, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const DISPLAY_NAME_MAX: usize = 80;
/// RFC 5321 limits a forward path to 254 octets.
pub const EMAIL_MAX: usize = 254;
pub const PASSWORD_MIN: usize = 8;
/// Long enough for any passphrase, short enough that hashing stays cheap to refuse.
pub const PASSWORD_MAX: usize = 256;
pub const TIME_ZONE_MAX: usize = 64;

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Usernames are case-insensitive: stored in lower case, letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit.
pub fn username(input: &str) -> Result<String, FieldError> {
    let err = |m: &str| FieldError::new(Field::Username, m);
    let value = input.trim().to_lowercase();
    if value.is_empty() {
        return Err(err("Choose a username."));
    }
    let len = char_len(&value);
    if len < USERNAME_MIN {
        return Err(err(&format!("A username needs at least {USERNAME_MIN} characters.")));
    }
    if len > USERNAME_MAX {
        return Err(err(&format!("A username can have at most {USERNAME_MAX} characters.")));
    }
    if !value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
        return Err(err("Use only letters, digits, '.', '_' and '-' in a username."));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(err("A username must start with a letter or a digit."));
    }
    Ok(value)
}

/// The name shown to others. Any script is welcome; control characters are not.
pub fn display_name(input: &str) -> Result<String, FieldError> {
    let err = |m: &str| FieldError::new(Field::DisplayName, m);
    let value = input.trim();
    if value.is_empty() {
        return Err(err("Enter the name others will see."));
    }
    if char_len(value) > DISPLAY_NAME_MAX {
        return Err(err(&format!("A display name can have at most {DISPLAY_NAME_MAX} characters.")));
    }
    if value.chars().any(char::is_control) {
        return Err(err("A display name cannot contain control characters."));
    }
    Ok(value.to_owned())
}

/// A deliverable-looking address: one `@`, a local part, and a domain with a dot. Stored in lower
/// case so that uniqueness ignores case. Whether it really receives mail is not checked here.
pub fn email(input: &str) -> Result<String, FieldError> {
    let err = |m: &str| FieldError::new(Field::Email, m);
    let value = input.trim().to_lowercase();
    if value.is_empty() {
        return Err(err("Enter your email address."));
    }
    if value.len() > EMAIL_MAX {
        return Err(err(&format!("An email address can have at most {EMAIL_MAX} characters.")));
    }
    let invalid = || err("Enter an email address like name@example.org.");
    let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok { Ok(value) } else { Err(invalid()) }
}

/// The length rules of a password. The server also refuses common passwords and passwords equal
/// to the username; that list is too large to ship to the browser.
pub fn password(input: &str) -> Result<(), FieldError> {
    let err = |m: &str| FieldError::new(Field::Password, m);
    let len = char_len(input);
    if len < PASSWORD_MIN {
        return Err(err(&format!("A password needs at least {PASSWORD_MIN} characters.")));
    }
    if len > PASSWORD_MAX {
        return Err(err(&format!("A password can have at most {PASSWORD_MAX} characters.")));
    }
    Ok(())
}

/// An optional phone number for SMS reminders, in E.164: `+`, a country code, at most 15 digits.
/// Spaces, dashes, dots and brackets that people type for readability are removed.
pub fn phone(input: &str) -> Result<Option<String>, FieldError> {
    let value: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    if value.is_empty() {
        return Ok(None);
    }
    let hint = "Enter the number in international format, like +14155550123.";
    let digits = value.strip_prefix('+').ok_or_else(|| FieldError::new(Field::Phone, hint))?;
    let shape_ok =
        (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
    if shape_ok { Ok(Some(value)) } else { Err(FieldError::new(Field::Phone, hint)) }
}

/// The shape of an IANA zone name. Whether the zone exists is checked on the server against the
/// time zone database.
pub fn time_zone_shape(input: &str) -> Result<String, FieldError> {
    let value = input.trim();
    let ok = !value.is_empty()
        && value.len() <= TIME_ZONE_MAX
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if ok { Ok(value.to_owned()) } else { Err(FieldError::new(Field::TimeZone, "Choose a time zone from the list.")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(username("  Ada.Lovelace "), Ok("ada.lovelace".into()));
        assert_eq!(username("ab").unwrap_err().field, Field::Username);
        assert!(username("").is_err());
        assert!(username("_lead").is_err());
        assert!(username("has space").is_err());
        assert!(username("ünïcode").is_err());
        assert!(username(&"a".repeat(USERNAME_MAX + 1)).is_err());
        assert!(username(&"a".repeat(USERNAME_MAX)).is_ok());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(email(" Ada@Example.ORG "), Ok("ada@example.org".into()));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a b@example.org",
            "ada@@example.org",
            "ada@example..org",
            "ada@-example.org",
            ".ada@example.org",
            "ada..l@example.org",
        ] {
            assert!(email(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(email(&format!("{}@example.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert_eq!(phone(""), Ok(None));
        assert_eq!(phone(" "), Ok(None));
        assert_eq!(phone("+1 (415) 555-0123"), Ok(Some("+14155550123".into())));
        assert_eq!(phone("+44 20 7946 0958"), Ok(Some("+442079460958".into())));
        for bad in ["4155550123", "+0123456789", "+1234", "+1234567890123456", "+1415abc0123"] {
            assert!(phone(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn passwords_have_length_bounds_in_characters() {
        assert!(password("short").is_err());
        assert!(password("eight ch").is_ok());
        // Eight characters even though more bytes.
        assert!(password("ééééééé").is_err());
        assert!(password("éééééééé").is_ok());
        assert!(password(&"x".repeat(PASSWORD_MAX + 1)).is_err());
    }

    #[test]
    fn display_names_refuse_control_characters() {
        assert_eq!(display_name("  Ada Lovelace "), Ok("Ada Lovelace".into()));
        assert!(display_name("Ada\u{0}").is_err());
        assert!(display_name("   ").is_err());
        assert_eq!(display_name("李小龍"), Ok("李小龍".into()));
    }

    proptest! {
        // Validators see raw browser input: they must never panic, and what they accept must be
        // accepted again unchanged (so stored values always pass validation).
        #[test]
        fn validators_never_panic_and_are_idempotent(s in "\\PC{0,300}") {
            if let Ok(v) = username(&s) { prop_assert_eq!(username(&v), Ok(v.clone())); }
            if let Ok(v) = email(&s) { prop_assert_eq!(email(&v), Ok(v.clone())); }
            if let Ok(v) = display_name(&s) { prop_assert_eq!(display_name(&v), Ok(v.clone())); }
            if let Ok(Some(v)) = phone(&s) { prop_assert_eq!(phone(&v), Ok(Some(v.clone()))); }
            if let Ok(v) = time_zone_shape(&s) { prop_assert_eq!(time_zone_shape(&v), Ok(v.clone())); }
            let _ = password(&s);
        }
    }
}
