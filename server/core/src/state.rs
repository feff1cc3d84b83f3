//! The state every request handler shares: config, store and login throttle.

use crate::auth::throttle::{LoginThrottle, ThrottleLimits};
use crate::config::Config;
use crate::store::{Store, StoreError};
use std::sync::Arc;

/// Cheap to clone: everything inside is shared.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub throttle: Arc<LoginThrottle>,
}

impl AppState {
    pub fn new(config: Config, store: Store) -> Self {
        let auth = &config.auth;
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_account: auth.login_failures_per_account,
            per_address: auth.login_failures_per_address,
            window_ms: auth.login_window_minutes * 60_000,
        });
        Self { config: Arc::new(config), store, throttle: Arc::new(throttle) }
    }

    /// Open the configured database (migrating it) and build the state around it.
    pub async fn open(config: Config) -> Result<Self, StoreError> {
        let store = Store::open(&config.database).await?;
        Ok(Self::new(config, store))
    }
}

/// The current time as Unix milliseconds, the unit of every stored time.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
