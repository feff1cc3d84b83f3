//! Accounts and the store, run against SQLite and against PostgreSQL by the same code.

use lectern_core::accounts::{self, AccountError, ClientInfo, ProfileForm, Registration};
use lectern_core::on_both_databases;
use lectern_core::store::StoreError;
use lectern_core::store::users::{InitialRole, NewUser};
use lectern_core::testing::TestDb;
use lectern_model::{Field, Role};

const NOW: i64 = 1_790_000_000_000;
const MINUTE: i64 = 60_000;

fn registration(username: &str) -> Registration {
    Registration {
        username: username.into(),
        email: format!("{username}@example.org"),
        display_name: format!("{username} Example"),
        password: "violet-anchor-trombone".into(),
        time_zone: "Europe/Berlin".into(),
    }
}

fn fields(err: AccountError) -> Vec<Field> {
    match err {
        AccountError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

async fn table_count(db: &TestDb, table: &str) -> i64 {
    use lectern_core::store::Store;
    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
    match db.store() {
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

async fn the_first_account_becomes_admin_and_later_ones_students(db: &TestDb) {
    let first = accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    let second = accounts::register(&db.state, &registration("grace"), NOW).await.unwrap();
    assert_eq!(first.role, Role::Admin);
    assert_eq!(second.role, Role::Student);
    assert_eq!(first.time_zone, "Europe/Berlin");
    assert!(first.password_hash.as_deref().unwrap().starts_with("$argon2id$"));
}

async fn concurrent_first_registrations_make_exactly_one_admin(db: &TestDb) {
    let mut tasks = Vec::new();
    for i in 0..6 {
        let state = db.state.clone();
        tasks.push(tokio::spawn(
            async move { accounts::register(&state, &registration(&format!("user{i}")), NOW).await },
        ));
    }
    let mut admins = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().role == Role::Admin {
            admins += 1;
        }
    }
    assert_eq!(admins, 1);
}

async fn bad_registrations_name_every_field_and_write_nothing(db: &TestDb) {
    let bad = Registration {
        username: "a".into(),
        email: "not-an-email".into(),
        display_name: "   ".into(),
        password: "short".into(),
        time_zone: "Mars/Olympus_Mons".into(),
    };
    let got = fields(accounts::register(&db.state, &bad, NOW).await.unwrap_err());
    for field in [Field::Username, Field::Email, Field::DisplayName, Field::Password, Field::TimeZone] {
        assert!(got.contains(&field), "{field:?} not reported in {got:?}");
    }
    let common = Registration { password: "password123".into(), ..registration("ada") };
    assert_eq!(fields(accounts::register(&db.state, &common, NOW).await.unwrap_err()), vec![Field::Password]);
    let oversized =
        Registration { username: "x".repeat(10_000), display_name: "y".repeat(10_000), ..registration("ada") };
    assert!(accounts::register(&db.state, &oversized, NOW).await.is_err());
    assert_eq!(table_count(db, "users").await, 0);
}

async fn taken_usernames_and_emails_are_reported_on_their_fields(db: &TestDb) {
    accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    let same_name = Registration { email: "other@example.org".into(), ..registration("ADA") };
    assert_eq!(fields(accounts::register(&db.state, &same_name, NOW).await.unwrap_err()), vec![Field::Username]);
    let same_email = Registration { email: "Ada@Example.org".into(), ..registration("other") };
    assert_eq!(fields(accounts::register(&db.state, &same_email, NOW).await.unwrap_err()), vec![Field::Email]);
    assert_eq!(table_count(db, "users").await, 1);
}

async fn a_unique_race_lost_in_the_database_is_a_duplicate_naming_the_column(db: &TestDb) {
    let new = NewUser {
        username: "ada".into(),
        email: "ada@example.org".into(),
        display_name: "Ada".into(),
        password_hash: None,
        phone: None,
        time_zone: "UTC".into(),
        role: InitialRole::Exactly(Role::Student),
    };
    db.store().insert_user(&new, NOW).await.unwrap();
    let err = db.store().insert_user(&NewUser { email: "x@example.org".into(), ..new.clone() }, NOW).await.unwrap_err();
    assert!(matches!(&err, StoreError::Duplicate { column } if column == "username"), "{err:?}");
    let err = db.store().insert_user(&NewUser { username: "bob".into(), ..new }, NOW).await.unwrap_err();
    assert!(matches!(&err, StoreError::Duplicate { column } if column == "email"), "{err:?}");
    // The service turns the race into the same field message a form shows.
    assert_eq!(fields(AccountError::from(err)), vec![Field::Email]);
}

async fn login_opens_a_session_that_logout_ends(db: &TestDb) {
    accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    let client = ClientInfo { ip: Some([127, 0, 0, 1].into()), user_agent: Some("test".into()) };
    // By username or by email, in any case.
    let by_email =
        accounts::login(&db.state, " ADA@example.org ", "violet-anchor-trombone", &client, NOW).await.unwrap();
    let session = accounts::login(&db.state, "Ada", "violet-anchor-trombone", &client, NOW).await.unwrap();
    assert_ne!(session.token, by_email.token, "every login gets a new session id");
    let me = accounts::authenticate(&db.state, &session.token, NOW + MINUTE).await.unwrap().expect("signed in");
    assert_eq!(me.user.username, "ada");
    accounts::logout(&db.state, &session.token).await.unwrap();
    assert!(accounts::authenticate(&db.state, &session.token, NOW + MINUTE).await.unwrap().is_none());
    // The other session is untouched.
    assert!(accounts::authenticate(&db.state, &by_email.token, NOW + MINUTE).await.unwrap().is_some());
    // The database holds no cookie value.
    assert_eq!(table_count(db, "sessions").await, 1);
}

async fn sessions_expire_when_idle_and_at_their_absolute_limit(db: &TestDb) {
    accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    let auth = &db.state.config.auth;
    let idle = auth.session_idle_minutes * MINUTE;
    let absolute = auth.session_absolute_hours * 60 * MINUTE;
    let client = ClientInfo::default();
    let session = accounts::login(&db.state, "ada", "violet-anchor-trombone", &client, NOW).await.unwrap();
    assert!(accounts::authenticate(&db.state, &session.token, NOW + idle - 1).await.unwrap().is_some());
    assert!(
        accounts::authenticate(&db.state, &session.token, NOW + 2 * idle - 2).await.unwrap().is_some(),
        "activity extends it"
    );
    assert!(
        accounts::authenticate(&db.state, &session.token, NOW + 3 * idle).await.unwrap().is_none(),
        "idle too long"
    );

    let active = accounts::login(&db.state, "ada", "violet-anchor-trombone", &client, NOW).await.unwrap();
    let mut t = NOW;
    while t + idle / 2 < NOW + absolute {
        t += idle / 2;
        assert!(accounts::authenticate(&db.state, &active.token, t).await.unwrap().is_some());
    }
    assert!(
        accounts::authenticate(&db.state, &active.token, NOW + absolute).await.unwrap().is_none(),
        "absolute expiry"
    );
    assert_eq!(accounts::sweep_sessions(&db.state, NOW + absolute).await.unwrap(), 2);
}

async fn unknown_users_and_wrong_passwords_look_the_same_and_are_throttled(db: &TestDb) {
    accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    let client = ClientInfo { ip: Some([10, 1, 2, 3].into()), user_agent: None };
    let wrong = accounts::login(&db.state, "ada", "wrong-password", &client, NOW).await.unwrap_err();
    let unknown = accounts::login(&db.state, "nobody", "wrong-password", &client, NOW).await.unwrap_err();
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert!(matches!(wrong, AccountError::BadCredentials));
    for _ in 1..db.state.config.auth.login_failures_per_account {
        let _ = accounts::login(&db.state, "ada", "wrong-password", &client, NOW).await;
    }
    // Now even the right password waits: the account has used its failures.
    let throttled = accounts::login(&db.state, "ada", "violet-anchor-trombone", &client, NOW + 1).await.unwrap_err();
    assert!(matches!(throttled, AccountError::Throttled { retry_after_ms } if retry_after_ms > 0), "{throttled:?}");
    let window = db.state.config.auth.login_window_minutes * MINUTE;
    assert!(accounts::login(&db.state, "ada", "violet-anchor-trombone", &client, NOW + window).await.is_ok());
}

async fn profiles_are_validated_and_saved_whole(db: &TestDb) {
    accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    accounts::register(&db.state, &registration("grace"), NOW).await.unwrap();
    let session =
        accounts::login(&db.state, "ada", "violet-anchor-trombone", &ClientInfo::default(), NOW).await.unwrap();
    let me = accounts::authenticate(&db.state, &session.token, NOW).await.unwrap().unwrap();
    let good = ProfileForm {
        display_name: "Ada King".into(),
        email: "ada.king@example.org".into(),
        phone: "+44 20 7946 0958".into(),
        time_zone: "America/New_York".into(),
    };
    let saved = accounts::update_profile(&db.state, &me, &good, NOW + 1).await.unwrap();
    assert_eq!(saved.phone.as_deref(), Some("+442079460958"));
    assert_eq!(saved.time_zone, "America/New_York");
    assert_eq!(saved.updated_at, NOW + 1);

    let bad = ProfileForm { email: "grace@example.org".into(), phone: "12345".into(), ..good.clone() };
    let got = fields(accounts::update_profile(&db.state, &me, &bad, NOW + 2).await.unwrap_err());
    assert_eq!(got, vec![Field::Phone, Field::Email]);
    let unchanged = db.store().user_by_id(me.user.id).await.unwrap().unwrap();
    assert_eq!(unchanged, saved, "a refused update writes nothing");

    let cleared =
        accounts::update_profile(&db.state, &me, &ProfileForm { phone: "".into(), ..good }, NOW + 3).await.unwrap();
    assert_eq!(cleared.phone, None);
}

async fn admins_change_roles_with_an_audit_entry_but_not_their_own(db: &TestDb) {
    accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    let grace = accounts::register(&db.state, &registration("grace"), NOW).await.unwrap();
    let client = ClientInfo::default();
    let ada_session = accounts::login(&db.state, "ada", "violet-anchor-trombone", &client, NOW).await.unwrap();
    let ada = accounts::authenticate(&db.state, &ada_session.token, NOW).await.unwrap().unwrap();
    let grace_session = accounts::login(&db.state, "grace", "violet-anchor-trombone", &client, NOW).await.unwrap();
    let grace_auth = accounts::authenticate(&db.state, &grace_session.token, NOW).await.unwrap().unwrap();

    assert!(grace_auth.require_admin().is_err(), "a student holds no admin capability");
    let admin = ada.require_admin().unwrap();
    let promoted = accounts::set_role(&db.state, admin, grace.id, Role::Teacher, NOW + 5).await.unwrap();
    assert_eq!(promoted.role, Role::Teacher);
    assert!(matches!(
        accounts::set_role(&db.state, admin, ada.user.id, Role::Student, NOW).await,
        Err(AccountError::Invalid(_))
    ));
    assert!(matches!(
        accounts::set_role(&db.state, admin, 999_999, Role::Student, NOW).await,
        Err(AccountError::UserNotFound)
    ));

    let audit = db.store().recent_audit(10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].actor_id, audit[0].action.as_str(), audit[0].target_user_id),
        (Some(ada.user.id), "set_role", Some(grace.id))
    );
    assert_eq!(audit[0].created_at, NOW + 5);

    let page = accounts::list_users(&db.state, admin, "GRA", 0, 50).await.unwrap();
    assert_eq!((page.total, page.users[0].username.as_str()), (1, "grace"));
    let all = accounts::list_users(&db.state, admin, "", 0, 1).await.unwrap();
    assert_eq!((all.total, all.users.len()), (2, 1));
    // LIKE wildcards typed into the filter match literally.
    assert_eq!(accounts::list_users(&db.state, admin, "%", 0, 50).await.unwrap().total, 0);
}

async fn the_data_model_enforces_its_constraints(db: &TestDb) {
    use lectern_core::store::Store;
    let user = accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    // A session for a user that does not exist: foreign keys are on in both databases.
    let orphan = "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) VALUES ('x', 424242, 0, 0, 1)";
    // A rating outside 1..=5, and feedback about both a class and a recording at once.
    let class = "INSERT INTO classes (teacher_id, title, kind, time_zone, created_at, updated_at) VALUES ($1, 'Algebra', 'live', 'UTC', 0, 0) RETURNING id";
    let class_id: i64 = match db.store() {
        Store::Sqlite(p) => sqlx::query_scalar(class).bind(user.id).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(class).bind(user.id).fetch_one(p).await.unwrap(),
    };
    let bad_rating =
        format!("INSERT INTO feedback (user_id, class_id, rating, created_at) VALUES ({}, {class_id}, 6, 0)", user.id);
    let bad_kind = format!(
        "INSERT INTO classes (teacher_id, title, kind, time_zone, created_at, updated_at) VALUES ({}, 'x', 'webinar', 'UTC', 0, 0)",
        user.id
    );
    for sql in [orphan.to_owned(), bad_rating, bad_kind] {
        let result = match db.store() {
            Store::Sqlite(p) => sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(p).await.map(|_| ()),
            Store::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(p).await.map(|_| ()),
        };
        assert!(result.is_err(), "the database accepted: {sql}");
    }
    // Deleting a user deletes their sessions (cascade).
    accounts::login(&db.state, "ada", "violet-anchor-trombone", &ClientInfo::default(), NOW).await.unwrap();
    assert_eq!(table_count(db, "sessions").await, 1);
    assert_eq!(db.store().delete_user_sessions(user.id).await.unwrap(), 1);
}

async fn the_dashboard_lists_upcoming_classes_the_user_takes_part_in(db: &TestDb) {
    use lectern_core::store::Store;
    let teacher = accounts::register(&db.state, &registration("ada"), NOW).await.unwrap();
    let student = accounts::register(&db.state, &registration("grace"), NOW).await.unwrap();
    accounts::register(&db.state, &registration("linus"), NOW).await.unwrap();
    let class = format!(
        "INSERT INTO classes (teacher_id, title, kind, time_zone, created_at, updated_at) VALUES ({}, 'Algebra', 'live', 'UTC', 0, 0) RETURNING id",
        teacher.id
    );
    let class_id: i64 = match db.store() {
        Store::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(class)).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(class)).fetch_one(p).await.unwrap(),
    };
    let t = teacher.id;
    let setup = [
        format!(
            "INSERT INTO occurrences (class_id, teacher_id, starts_at, ends_at) VALUES ({class_id}, {t}, {}, {}), ({class_id}, {t}, {}, {}), ({class_id}, {t}, {}, {})",
            NOW - 120 * MINUTE,
            NOW - 60 * MINUTE,
            NOW + 60 * MINUTE,
            NOW + 120 * MINUTE,
            NOW - 30 * MINUTE,
            NOW + 30 * MINUTE
        ),
        format!("INSERT INTO enrolments (class_id, user_id, created_at) VALUES ({class_id}, {}, 0)", student.id),
    ];
    for sql in setup {
        match db.store() {
            Store::Sqlite(p) => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await.map(|_| ()).unwrap(),
            Store::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await.map(|_| ()).unwrap(),
        }
    }
    let login = |name: &'static str| {
        let state = db.state.clone();
        async move {
            let s = accounts::login(&state, name, "violet-anchor-trombone", &ClientInfo::default(), NOW).await.unwrap();
            accounts::authenticate(&state, &s.token, NOW).await.unwrap().unwrap()
        }
    };
    for who in ["ada", "grace"] {
        let me = login(who).await;
        let upcoming = accounts::upcoming(&db.state, &me, NOW).await.unwrap();
        // The one in progress and the one to come, soonest first; not the one that ended.
        let starts: Vec<i64> = upcoming.iter().map(|o| o.starts_at).collect();
        assert_eq!(starts, vec![NOW - 30 * MINUTE, NOW + 60 * MINUTE], "for {who}");
        assert_eq!(upcoming[0].teacher_name, "ada Example");
    }
    assert!(accounts::upcoming(&db.state, &login("linus").await, NOW).await.unwrap().is_empty());
}

async fn opening_a_database_that_cannot_be_created_names_the_path(db: &TestDb) {
    use lectern_core::config::DatabaseConfig;
    use lectern_core::store::Store;
    let _ = db;
    let config = DatabaseConfig { url: "sqlite:///proc/lectern-cannot-write-here/x.db".into(), ..Default::default() };
    let err = Store::open(&config).await.unwrap_err().to_string();
    assert!(err.contains("/proc/lectern-cannot-write-here"), "{err}");
    let config = DatabaseConfig {
        url: "postgres://nobody:secret@127.0.0.1:1/none".into(),
        acquire_timeout_seconds: 2,
        ..Default::default()
    };
    let err = Store::open(&config).await.unwrap_err().to_string();
    assert!(err.contains("postgres://nobody:***@127.0.0.1:1/none") && !err.contains("secret"), "{err}");
    let err =
        Store::open(&DatabaseConfig { url: "mysql://x".into(), ..Default::default() }).await.unwrap_err().to_string();
    assert!(err.contains("not supported"), "{err}");
}

on_both_databases!(
    the_first_account_becomes_admin_and_later_ones_students,
    concurrent_first_registrations_make_exactly_one_admin,
    bad_registrations_name_every_field_and_write_nothing,
    taken_usernames_and_emails_are_reported_on_their_fields,
    a_unique_race_lost_in_the_database_is_a_duplicate_naming_the_column,
    login_opens_a_session_that_logout_ends,
    sessions_expire_when_idle_and_at_their_absolute_limit,
    unknown_users_and_wrong_passwords_look_the_same_and_are_throttled,
    profiles_are_validated_and_saved_whole,
    admins_change_roles_with_an_audit_entry_but_not_their_own,
    the_data_model_enforces_its_constraints,
    the_dashboard_lists_upcoming_classes_the_user_takes_part_in,
    opening_a_database_that_cannot_be_created_names_the_path,
);
