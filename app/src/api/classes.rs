//! Classes, the calendar and enrolment. Every function checks the caller's capability on the
//! server: students cannot create or move classes, teachers change only their own.

use super::ApiError;
use lectern_model::schedule::{CalendarEvent, ClassDetails, ClassForm, EnrolmentPolicy};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use {
    super::server,
    lectern_core::auth::Authenticated,
    lectern_core::classes::{self as core_classes, ClassError},
    lectern_core::now_ms,
};

/// Turn a class error into the API's, describing time clashes in the caller's time zone.
#[cfg(feature = "ssr")]
fn for_caller(me: &Authenticated) -> impl Fn(ClassError) -> ApiError + '_ {
    move |err| match err {
        ClassError::Conflict(clashes) => ApiError::Conflict(core_classes::describe_clash(&clashes, &me.user.time_zone)),
        other => other.into(),
    }
}

/// A class in a list (browse, "my classes").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassListItem {
    pub id: i64,
    pub title: String,
    pub teacher_name: String,
    pub next: Option<String>,
}

/// What the scheduler shows: today and the focused date in the viewer's zone, and the events of
/// the days the view covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarData {
    pub today: String,
    pub focus: String,
    pub events: Vec<CalendarEvent>,
    /// For admins: the teachers they can filter by (id, name); empty for everyone else.
    pub teachers: Vec<(i64, String)>,
}

/// The scheduler's data for `view` ("month", "week", "day", "agenda") around `date` (default:
/// today in the caller's time zone). Admins may narrow it to one `teacher`.
#[server(prefix = "/api", endpoint = "classes/calendar_view")]
pub async fn load_calendar(view: String, date: Option<String>, teacher: Option<i64>) -> Result<CalendarData, ApiError> {
    use crate::components::scheduler::grid::{View, add_days, visible_days};
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let today = lectern_core::local_time::today(&me.user.time_zone);
            let focus: jiff::civil::Date = date
                .as_deref()
                .and_then(|d| d.parse().ok())
                .or_else(|| today.parse().ok())
                .ok_or(ApiError::Internal)?;
            let days = visible_days(View::parse(&view), focus);
            let (first, last) = (days[0], add_days(days[days.len() - 1], 1));
            let events = core_classes::calendar(&state, &me, &first.to_string(), &last.to_string(), teacher)
                .await
                .map_err(for_caller(&me))?;
            let teachers = match me.require_admin() {
                Ok(_) => state.store.teachers().await?,
                Err(_) => Vec::new(),
            };
            Ok(CalendarData { today, focus: focus.to_string(), events, teachers })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/create", input = Json)]
pub async fn create_class(form: ClassForm) -> Result<i64, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let teacher = me.require_teacher()?;
            core_classes::create_class(&state, teacher, &form, now_ms()).await.map_err(for_caller(&me))
        }
        .await,
    )
}

/// The caller's calendar for local dates `[from, to)` (`YYYY-MM-DD`, in their time zone).
#[server(prefix = "/api", endpoint = "classes/calendar")]
pub async fn calendar_events(from: String, to: String, teacher: Option<i64>) -> Result<Vec<CalendarEvent>, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            core_classes::calendar(&state, &me, &from, &to, teacher).await.map_err(for_caller(&me))
        }
        .await,
    )
}

/// Move or resize one occurrence; `start_local` is in the caller's time zone.
#[server(prefix = "/api", endpoint = "classes/move")]
pub async fn move_occurrence(occurrence_id: i64, start_local: String, duration_minutes: i64) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let zone = me.user.time_zone.clone();
            core_classes::move_occurrence(&state, &me, occurrence_id, &start_local, duration_minutes, &zone, now_ms())
                .await
                .map_err(for_caller(&me))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/cancel_occurrence")]
pub async fn cancel_occurrence(occurrence_id: i64) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            core_classes::cancel_occurrence(&state, &me, occurrence_id, now_ms()).await.map_err(for_caller(&me))
        }
        .await,
    )
}

/// "This and following": re-plan a series from one occurrence on.
#[server(prefix = "/api", endpoint = "classes/edit_following", input = Json)]
pub async fn edit_following(occurrence_id: i64, form: ClassForm) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            core_classes::edit_following(&state, &me, occurrence_id, &form, now_ms()).await.map_err(for_caller(&me))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/details")]
pub async fn load_class(class_id: i64, invite: Option<String>) -> Result<ClassDetails, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            core_classes::details(&state, &me, class_id, invite.as_deref(), now_ms()).await.map_err(for_caller(&me))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/update")]
pub async fn update_class(
    class_id: i64,
    title: String,
    description: String,
    // Text, as a form sends it: empty means no limit.
    capacity: String,
    enrolment: EnrolmentPolicy,
) -> Result<(), ApiError> {
    server::respond(
        async {
            let capacity = match capacity.trim() {
                "" => None,
                text => Some(text.parse::<i64>().map_err(|_| {
                    ApiError::Invalid(vec![lectern_model::FieldError::new(
                        lectern_model::Field::Capacity,
                        "Capacity is a whole number, or empty for no limit.",
                    )])
                })?),
            };
            let state = server::state()?;
            let me = server::signed_in().await?;
            let (class, _) = core_classes::class_for_teacher(&state, &me, class_id).await.map_err(for_caller(&me))?;
            let teacher = me.teacher_of(&class)?;
            core_classes::update_details(&state, teacher, &title, &description, capacity, enrolment, now_ms())
                .await
                .map_err(for_caller(&me))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/cancel")]
pub async fn cancel_class(class_id: i64) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let (class, _) = core_classes::class_for_teacher(&state, &me, class_id).await.map_err(for_caller(&me))?;
            core_classes::cancel_class(&state, me.teacher_of(&class)?, now_ms()).await.map_err(for_caller(&me))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/enrol")]
pub async fn enrol(class_id: i64, invite: Option<String>) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            core_classes::enrol(&state, &me, class_id, invite.as_deref(), now_ms()).await.map_err(for_caller(&me))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/leave")]
pub async fn leave_class(class_id: i64) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            core_classes::leave(&state, &me, class_id).await.map_err(for_caller(&me))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/add_student")]
pub async fn add_student(class_id: i64, login: String) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let (class, _) = core_classes::class_for_teacher(&state, &me, class_id).await.map_err(for_caller(&me))?;
            core_classes::add_student(&state, me.teacher_of(&class)?, &login, now_ms()).await.map_err(for_caller(&me))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "classes/add_co_teacher")]
pub async fn add_co_teacher(class_id: i64, login: String) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let (class, _) = core_classes::class_for_teacher(&state, &me, class_id).await.map_err(for_caller(&me))?;
            core_classes::add_co_teacher(&state, me.teacher_of(&class)?, &login, now_ms())
                .await
                .map_err(for_caller(&me))
        }
        .await,
    )
}

/// Take someone (student or co-teacher) off the class.
#[server(prefix = "/api", endpoint = "classes/remove_student")]
pub async fn remove_student(class_id: i64, user_id: i64) -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let (class, _) = core_classes::class_for_teacher(&state, &me, class_id).await.map_err(for_caller(&me))?;
            core_classes::remove_student(&state, me.teacher_of(&class)?, user_id).await.map_err(for_caller(&me))
        }
        .await,
    )
}

/// Open classes with sessions still to come, for students to find and enrol in.
#[server(prefix = "/api", endpoint = "classes/open")]
pub async fn open_classes() -> Result<Vec<ClassListItem>, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let now = now_ms();
            let mut items = Vec::new();
            for class in state.store.open_classes(now, 50).await? {
                let next = state.store.class_occurrences(class.id, now, 1).await?;
                items.push(ClassListItem {
                    id: class.id,
                    title: class.title,
                    teacher_name: class.teacher_name,
                    next: next
                        .first()
                        .map(|o| lectern_core::local_time::format_span(o.starts_at, o.ends_at, &me.user.time_zone)),
                });
            }
            Ok(items)
        }
        .await,
    )
}

/// Make a new private calendar feed URL (the old one stops working). Shown once: only its hash
/// is kept.
#[server(prefix = "/api", endpoint = "calendar/reset_feed")]
pub async fn reset_calendar_feed() -> Result<String, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let token = lectern_core::auth::token::generate();
            state.store.set_calendar_feed(me.user.id, &lectern_core::auth::token::digest(&token), now_ms()).await?;
            Ok(format!("/calendar/{token}.ics"))
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "calendar/revoke_feed")]
pub async fn revoke_calendar_feed() -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            Ok(state.store.revoke_calendar_feed(me.user.id).await?)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "calendar/has_feed")]
pub async fn has_calendar_feed() -> Result<bool, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            Ok(state.store.has_calendar_feed(me.user.id).await?)
        }
        .await,
    )
}
