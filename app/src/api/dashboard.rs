//! The dashboard: what comes next for the signed-in user.

use super::ApiError;
use lectern_model::schedule::UpcomingClass;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::server, lectern_core::accounts as core_accounts};

#[server(prefix = "/api", endpoint = "upcoming_classes")]
pub async fn upcoming_classes() -> Result<Vec<UpcomingClass>, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let now = lectern_core::now_ms();
            let upcoming = core_accounts::upcoming(&state, &me, now).await?;
            Ok(upcoming
                .into_iter()
                .map(|o| UpcomingClass {
                    class_id: o.class_id,
                    occurrence_id: o.occurrence_id,
                    when: lectern_core::local_time::format_span(o.starts_at, o.ends_at, &me.user.time_zone),
                    live_now: o.starts_at <= now && now < o.ends_at,
                    title: o.title,
                    teacher_name: o.teacher_name,
                    starts_at: o.starts_at,
                    ends_at: o.ends_at,
                })
                .collect())
        }
        .await,
    )
}
