//! Scheduler benchmark: the month view of a busy student on SQLite and PostgreSQL, and the
//! recurrence engine on five-year series. A measurement, not a test: it prints PASS/MISS per
//! target and exits non-zero only when the data could not be set up.
//!
//! ```text
//! cargo run --release -p lectern-core --features testing --example bench_schedule \
//!     [-- [--json] [--runs N] [--only sqlite|postgres]]
//! ```
//!
//! PostgreSQL comes from `LECTERN_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each run works in a schema of its own and drops it afterwards. Results are recorded in
//! `docs/benchmarks.md` ("Scheduler").
//!
//! # What it sets up (not timed)
//!
//! One student (time zone Europe/Berlin) enrolled in [`CLASSES`] daily classes, each with its own
//! teacher, created through `classes::create_class` like the scheduling form does. The month view
//! is the range the calendar UI asks for: 42 days from the Monday on or before the 1st of
//! [`VIEW_MONTH`]. Half the series run ~150 days up to the view's 40th day, the other half start on
//! its 3rd day and run ~150 days on, so each class has exactly 40 occurrences in the view (2,000 in
//! all) and the tables also hold the occurrences either side that the query must skip.
//!
//! # What it times
//!
//! - `classes::calendar` for that student and range: the whole service call (the SQL and the
//!   conversion to local slots in the student's zone), `--runs` times after [`WARMUPS`] warm-ups;
//!   and `Store::calendar` (the query alone) the same way.
//! - `recurrence::expand` of a five-year weekly series and a five-year Mon/Wed/Fri series
//!   (Europe/Berlin, 09:00), [`EXPAND_RUNS`] times each.

use jiff::ToSpan;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use lectern_core::AppState;
use lectern_core::auth::{Authenticated, token};
use lectern_core::classes;
use lectern_core::schedule::recurrence;
use lectern_core::store::Store;
use lectern_core::store::classes::{CalendarScope, Enrolled};
use lectern_core::store::sessions::NewSession;
use lectern_core::store::users::{InitialRole, NewUser};
use lectern_core::testing::{Backend, TestDb};
use lectern_model::Role;
use lectern_model::schedule::{
    ClassForm, ClassKind, EnrolmentPolicy, Frequency, MonthlyBy, Recurrence, RecurrenceEnd, Weekday,
};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Classes the student is enrolled in, one teacher each.
const CLASSES: usize = 50;
/// Occurrences of each class inside the month view.
const PER_CLASS_IN_VIEW: i64 = 40;
/// What the month view must contain.
const EXPECTED_OCCURRENCES: usize = 2_000;
/// Days of history before (or of future after) the view, per series.
const OUTSIDE_DAYS: i64 = 150;
/// The month whose view is read: March 2027 (starts on a Monday; Europe/Berlin changes to
/// summer time on the 28th, so the view spans a DST change).
const VIEW_MONTH: (i16, i8) = (2027, 3);
/// The calendar UI asks for six weeks.
const VIEW_DAYS: i64 = 42;
const ZONE: &str = "Europe/Berlin";
const WARMUPS: usize = 3;
const EXPAND_RUNS: usize = 1_000;
const EXPAND_WARMUPS: usize = 50;

/// Targets: month view median per backend, expansion median per series.
const VIEW_TARGET_MS: f64 = 20.0;
const EXPAND_TARGET_US: f64 = 1_000.0;

struct Args {
    json: bool,
    runs: usize,
    backends: Vec<Backend>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { json: false, runs: 30, backends: vec![Backend::Sqlite, Backend::Postgres] };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => args.json = true,
            "--runs" => {
                let value = it.next().ok_or("--runs needs a number")?;
                args.runs = value.parse().ok().filter(|&n| n > 0).ok_or(format!("--runs {value:?}: need N >= 1"))?;
            }
            "--only" => {
                args.backends = match it.next().as_deref() {
                    Some("sqlite") => vec![Backend::Sqlite],
                    Some("postgres") => vec![Backend::Postgres],
                    other => return Err(format!("--only {other:?}: need sqlite or postgres")),
                };
            }
            "-h" | "--help" => {
                println!(
                    "bench_schedule [--json] [--runs N] [--only sqlite|postgres]   (N timed runs per query, default 30)"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// Median, 90th percentile (nearest rank) and maximum of a set of timings, in the given unit.
#[derive(Clone, Copy, Debug)]
struct Stats {
    median: f64,
    p90: f64,
    max: f64,
}

impl Stats {
    fn of(samples: &[Duration], unit: Duration) -> Stats {
        assert!(!samples.is_empty());
        let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() / unit.as_secs_f64()).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        let p90 = v[(n * 9).div_ceil(10).max(1) - 1];
        Stats { median, p90, max: v[n - 1] }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "median": self.median, "p90": self.p90, "max": self.max })
    }
}

const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);

struct BackendResult {
    backend: &'static str,
    occurrences: usize,
    stored_occurrences: i64,
    view_ms: Stats,
    store_ms: Stats,
}

struct ExpandResult {
    name: &'static str,
    instances: usize,
    us: Stats,
}

type Failure = String;

fn fail(context: &str, error: impl std::fmt::Display) -> Failure {
    format!("{context}: {error}")
}

/// A user inserted directly (no password: argon2 would dominate the setup).
async fn add_user(state: &AppState, username: &str, name: &str, role: Role, now: i64) -> Result<i64, Failure> {
    let user = NewUser {
        username: username.into(),
        email: format!("{username}@bench.lectern.invalid"),
        display_name: name.into(),
        password_hash: None,
        phone: None,
        time_zone: ZONE.into(),
        role: InitialRole::Exactly(role),
    };
    Ok(state.store.insert_user(&user, now).await.map_err(|e| fail("insert user", e))?.id)
}

/// A live session for `user_id`, turned into an [`Authenticated`] the way a request's cookie is.
async fn sign_in(state: &AppState, user_id: i64, now: i64) -> Result<Authenticated, Failure> {
    let cookie = token::generate();
    let session = NewSession {
        token_hash: &token::digest(&cookie),
        user_id,
        now,
        expires_at: now + 24 * 3_600_000,
        ip: None,
        user_agent: None,
    };
    state.store.insert_session(&session).await.map_err(|e| fail("insert session", e))?;
    lectern_core::accounts::authenticate(state, &cookie, now)
        .await
        .map_err(|e| fail("authenticate", e))?
        .ok_or_else(|| "authenticate: the new session was not accepted".to_string())
}

/// The month view's `[from, to)` for [`VIEW_MONTH`], as the UI computes it.
fn view_range() -> (Date, Date) {
    let first = Date::new(VIEW_MONTH.0, VIEW_MONTH.1, 1).expect("valid month");
    let from = classes::monday_of(first);
    (from, from.checked_add(VIEW_DAYS.days()).expect("in range"))
}

fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(days.days()).expect("date in range")
}

/// Class `i`'s series: daily at its own time of day, 40 occurrences inside the view.
fn class_form(i: usize, view_from: Date) -> ClassForm {
    // Even classes: ~150 days of history, last class on the view's 40th day (days 0..=39).
    // Odd classes: first class on the view's 3rd day (days 2..=41), then ~150 days on.
    let (first, last) = if i.is_multiple_of(2) {
        (add_days(view_from, -OUTSIDE_DAYS), add_days(view_from, PER_CLASS_IN_VIEW - 1))
    } else {
        let first = add_days(view_from, VIEW_DAYS - PER_CLASS_IN_VIEW);
        (first, add_days(view_from, VIEW_DAYS - 1 + OUTSIDE_DAYS))
    };
    let minutes = 7 * 60 + (i as i64 % 28) * 30; // 07:00 to 20:30 local
    ClassForm {
        title: format!("Benchmark class {i:02}"),
        description: "A daily class for the scheduler benchmark.".into(),
        kind: ClassKind::Live,
        time_zone: ZONE.into(),
        start_local: format!("{first}T{:02}:{:02}", minutes / 60, minutes % 60),
        duration_minutes: 45,
        capacity: None,
        enrolment: EnrolmentPolicy::Open,
        recurrence: Some(Recurrence {
            frequency: Frequency::Daily,
            interval: 1,
            weekdays: vec![],
            monthly_by: MonthlyBy::DayOfMonth,
            end: RecurrenceEnd::Until(last.to_string()),
        }),
    }
}

async fn count_occurrences(store: &Store) -> Result<i64, Failure> {
    let sql = "SELECT COUNT(*) FROM occurrences";
    let count = match store {
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    };
    count.map_err(|e| fail("count occurrences", e))
}

async fn time_runs(
    runs: usize,
    mut call: impl AsyncFnMut() -> Result<usize, Failure>,
) -> Result<Vec<Duration>, Failure> {
    for _ in 0..WARMUPS {
        call().await?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let n = call().await?;
        samples.push(started.elapsed());
        if n != EXPECTED_OCCURRENCES {
            return Err(format!("a timed run returned {n} occurrences, not {EXPECTED_OCCURRENCES}"));
        }
    }
    Ok(samples)
}

async fn bench_backend(backend: Backend, runs: usize) -> Result<BackendResult, Failure> {
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let db = TestDb::new(backend).await;
    let result = bench_db(&db.state, name, runs).await;
    db.finish().await;
    result
}

async fn bench_db(state: &AppState, name: &'static str, runs: usize) -> Result<BackendResult, Failure> {
    let now = lectern_core::now_ms();
    let (from, to) = view_range();

    // Setup.
    let student_id = add_user(state, "student", "Busy Student", Role::Student, now).await?;
    for i in 0..CLASSES {
        let teacher_id =
            add_user(state, &format!("teacher{i:02}"), &format!("Teacher {i:02}"), Role::Teacher, now).await?;
        let teacher = sign_in(state, teacher_id, now).await?;
        let capability = teacher.require_teacher().map_err(|e| fail("teacher capability", e))?;
        let class_id = classes::create_class(state, capability, &class_form(i, from), now)
            .await
            .map_err(|e| fail(&format!("create class {i}"), e))?;
        match state.store.enrol(class_id, student_id, now).await {
            Ok(Enrolled::Now) => {}
            Ok(other) => return Err(format!("enrol in class {i}: {other:?}")),
            Err(e) => return Err(fail("enrol", e)),
        }
    }
    let student = sign_in(state, student_id, now).await?;
    let stored_occurrences = count_occurrences(&state.store).await?;

    let (from_text, to_text) = (from.to_string(), to.to_string());
    let mut view = async || {
        let events = classes::calendar(state, &student, &from_text, &to_text, None)
            .await
            .map_err(|e| fail("classes::calendar", e))?;
        Ok(black_box(events).len())
    };
    let occurrences = view().await?;
    if occurrences != EXPECTED_OCCURRENCES {
        return Err(format!(
            "{name}: the month view {from}..{to} holds {occurrences} occurrences, not {EXPECTED_OCCURRENCES}: \
             the setup is wrong"
        ));
    }

    // The same range in UTC milliseconds, as `classes::calendar` computes it for the query.
    let tz = TimeZone::get(ZONE).map_err(|e| fail("time zone", e))?;
    let ms = |d: Date| d.to_zoned_datetime(tz.clone()).map(|z| z.timestamp().as_millisecond());
    let (start_ms, end_ms) = (ms(from).map_err(|e| e.to_string())?, ms(to).map_err(|e| e.to_string())?);
    let scope = CalendarScope::Participant(student_id);
    let query = async || {
        let rows = state.store.calendar(scope, start_ms, end_ms).await.map_err(|e| fail("Store::calendar", e))?;
        Ok(black_box(rows).len())
    };

    let view_samples = time_runs(runs, &mut view).await?;
    let store_samples = time_runs(runs, query).await?;
    Ok(BackendResult {
        backend: name,
        occurrences,
        stored_occurrences,
        view_ms: Stats::of(&view_samples, MS),
        store_ms: Stats::of(&store_samples, MS),
    })
}

fn bench_expand(name: &'static str, weekdays: Vec<Weekday>) -> Result<ExpandResult, Failure> {
    let tz = TimeZone::get(ZONE).map_err(|e| fail("time zone", e))?;
    // Monday 4 January 2027, 09:00; until the day before the fifth anniversary.
    let start: DateTime = "2027-01-04T09:00".parse().map_err(|e: jiff::Error| e.to_string())?;
    let until = start.date().checked_add(5.years()).and_then(|d| d.yesterday()).map_err(|e| e.to_string())?;
    let rule = Recurrence {
        frequency: Frequency::Weekly,
        interval: 1,
        weekdays,
        monthly_by: MonthlyBy::DayOfMonth,
        end: RecurrenceEnd::Until(until.to_string()),
    };
    let max = recurrence::MAX_COUNT as usize;
    let expand = || recurrence::expand(black_box(&rule), black_box(start), &tz, max).map_err(|e| fail(name, e));
    let instances = expand()?.len();
    for _ in 0..EXPAND_WARMUPS {
        black_box(expand()?);
    }
    let mut samples = Vec::with_capacity(EXPAND_RUNS);
    for _ in 0..EXPAND_RUNS {
        let started = Instant::now();
        let out = expand()?;
        samples.push(started.elapsed());
        black_box(out);
    }
    Ok(ExpandResult { name, instances, us: Stats::of(&samples, US) })
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn report(args: &Args, backends: &[BackendResult], expands: &[ExpandResult]) {
    let (from, to) = view_range();
    if args.json {
        let json = serde_json::json!({
            "runs": args.runs,
            "warmups": WARMUPS,
            "view": { "from": from.to_string(), "to": to.to_string(), "time_zone": ZONE, "classes": CLASSES },
            "backends": backends.iter().map(|b| serde_json::json!({
                "backend": b.backend,
                "occurrences": b.occurrences,
                "stored_occurrences": b.stored_occurrences,
                "month_view_ms": b.view_ms.json(),
                "store_query_ms": b.store_ms.json(),
                "target_ms": VIEW_TARGET_MS,
                "pass": b.view_ms.median < VIEW_TARGET_MS,
            })).collect::<Vec<_>>(),
            "expand": expands.iter().map(|e| serde_json::json!({
                "series": e.name,
                "instances": e.instances,
                "runs": EXPAND_RUNS,
                "us": e.us.json(),
                "target_us": EXPAND_TARGET_US,
                "pass": e.us.median < EXPAND_TARGET_US,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&json).expect("JSON"));
        return;
    }
    println!(
        "month view {from}..{to} ({VIEW_DAYS} days, {ZONE}), {CLASSES} classes; {} timed runs after {WARMUPS} warm-ups",
        args.runs
    );
    println!();
    println!(
        "{:<10} {:>11} {:>8}  {:>17} {:>8} {:>8}  {:>20} {:>8} {:>8}",
        "backend", "occurrences", "stored", "month view median", "p90", "max", "(store query median", "p90", "max)"
    );
    for b in backends {
        println!(
            "{:<10} {:>11} {:>8}  {:>14.2} ms {:>5.2} ms {:>5.2} ms  {:>17.2} ms {:>5.2} ms {:>5.2} ms",
            b.backend,
            b.occurrences,
            b.stored_occurrences,
            b.view_ms.median,
            b.view_ms.p90,
            b.view_ms.max,
            b.store_ms.median,
            b.store_ms.p90,
            b.store_ms.max
        );
    }
    let line: Vec<String> = expands
        .iter()
        .map(|e| format!("{} ({}): median {:.1} µs, p90 {:.1} µs", e.name, e.instances, e.us.median, e.us.p90))
        .collect();
    println!();
    println!("expand 5-year series, {EXPAND_RUNS} runs: {}", line.join("; "));
    println!();
    println!("targets:");
    for b in backends {
        println!(
            "  {}  {} month view median {:.2} ms < {VIEW_TARGET_MS} ms",
            verdict(b.view_ms.median < VIEW_TARGET_MS),
            b.backend,
            b.view_ms.median
        );
    }
    for e in expands {
        println!(
            "  {}  expand {} median {:.1} µs < {EXPAND_TARGET_US} µs",
            verdict(e.us.median < EXPAND_TARGET_US),
            e.name,
            e.us.median
        );
    }
}

async fn run(args: &Args) -> Result<(), Failure> {
    let mut backends = Vec::new();
    for &backend in &args.backends {
        if !args.json {
            eprintln!("setting up {backend:?}...");
        }
        backends.push(bench_backend(backend, args.runs).await?);
    }
    let expands = vec![
        bench_expand("weekly", vec![])?,
        bench_expand("Mon/Wed/Fri", vec![Weekday::Mon, Weekday::Wed, Weekday::Fri])?,
    ];
    report(args, &backends, &expands);
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench_schedule: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench_schedule: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_schedule: SETUP FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
