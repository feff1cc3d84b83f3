//! The error every server function returns. It crosses the wire as JSON, so the page can show a
//! field's message beside that field; on the server it also sets the HTTP status.

use lectern_model::{Field, FieldError};
use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// Input the user can fix, one message per field.
    #[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
    Invalid(Vec<FieldError>),
    #[error("Wrong username or password.")]
    BadCredentials,
    #[error("Too many failed sign-in attempts. Try again in {} minute(s).", (retry_after_secs + 59) / 60)]
    Throttled { retry_after_secs: i64 },
    #[error("Registration is closed here. Ask an admin for an account.")]
    RegistrationClosed,
    #[error("Please sign in first.")]
    NotSignedIn,
    #[error("You don't have access to this.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    /// The request is valid but the current state refuses it (a time clash, a full class).
    #[error("{0}")]
    Conflict(String),
    /// Something broke on the server. Details are logged there, never sent.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The request itself failed (network, encoding) before reaching our code.
    #[error("{0}")]
    Transport(ServerFnErrorErr),
}

impl ApiError {
    /// The message for one field, if this error has one.
    pub fn for_field(&self, field: Field) -> Option<String> {
        match self {
            ApiError::Invalid(errors) => errors.iter().find(|e| e.field == field).map(|e| e.message.clone()),
            _ => None,
        }
    }

    /// The message that belongs to no field (shown at the top of a form).
    pub fn general(&self) -> Option<String> {
        match self {
            ApiError::Invalid(_) => None,
            other => Some(other.to_string()),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid(_) => 422,
            ApiError::BadCredentials | ApiError::NotSignedIn => 401,
            ApiError::Throttled { .. } => 429,
            ApiError::RegistrationClosed | ApiError::Forbidden => 403,
            ApiError::NotFound => 404,
            ApiError::Conflict(_) => 409,
            ApiError::Internal => 500,
            ApiError::Transport(ServerFnErrorErr::Args(_) | ServerFnErrorErr::Deserialization(_)) => 400,
            ApiError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value)
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::ApiError;
    use lectern_core::accounts::AccountError;
    use lectern_core::store::StoreError;

    impl From<AccountError> for ApiError {
        fn from(err: AccountError) -> Self {
            match err {
                AccountError::Invalid(errors) => ApiError::Invalid(errors),
                AccountError::BadCredentials => ApiError::BadCredentials,
                AccountError::Throttled { retry_after_ms } => {
                    ApiError::Throttled { retry_after_secs: (retry_after_ms + 999) / 1000 }
                }
                AccountError::RegistrationClosed => ApiError::RegistrationClosed,
                AccountError::NotSignedIn => ApiError::NotSignedIn,
                AccountError::Forbidden(_) => ApiError::Forbidden,
                AccountError::UserNotFound => ApiError::NotFound,
                err @ (AccountError::Password(_) | AccountError::Store(_)) => {
                    tracing::error!(error = %err, "request failed");
                    ApiError::Internal
                }
            }
        }
    }

    impl From<lectern_core::classes::ClassError> for ApiError {
        fn from(err: lectern_core::classes::ClassError) -> Self {
            use lectern_core::classes::ClassError;
            match err {
                ClassError::Invalid(errors) => ApiError::Invalid(errors),
                // Callers that know the viewer's zone describe clashes there; this is the fallback.
                ClassError::Conflict(_) | ClassError::Full | ClassError::EnrolmentClosed | ClassError::Cancelled => {
                    ApiError::Conflict(sentence(&err.to_string()))
                }
                ClassError::Forbidden(_) => ApiError::Forbidden,
                ClassError::NotFound => ApiError::NotFound,
                ClassError::Store(e) => e.into(),
            }
        }
    }

    fn sentence(s: &str) -> String {
        let mut c = s.chars();
        let first = c.next().map(|f| f.to_uppercase().collect::<String>()).unwrap_or_default();
        let body = format!("{first}{}", c.as_str());
        if body.ends_with('.') { body } else { format!("{body}.") }
    }

    impl From<StoreError> for ApiError {
        fn from(err: StoreError) -> Self {
            AccountError::from(err).into()
        }
    }

    impl From<lectern_core::auth::Forbidden> for ApiError {
        fn from(_: lectern_core::auth::Forbidden) -> Self {
            ApiError::Forbidden
        }
    }
}
