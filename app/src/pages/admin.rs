use crate::api::ApiError;
use crate::api::admin::{SetUserRole, USERS_PER_PAGE, UserList, list_users};
use crate::components::layout::{ErrorPage, Forbidden, SignInRequired};
use lectern_model::{Role, User};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

/// People and roles. Only admins get past the server function; everyone else sees why not.
#[component]
pub fn AdminPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || query.read().get("q").unwrap_or_default();
    let page = move || query.read().get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(0);
    let set_role = ServerAction::<SetUserRole>::new();
    let users = Resource::new(move || (filter(), page(), set_role.version().get()), |(f, p, _)| list_users(f, p));
    view! {
        <Title text="Admin · Lectern"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! { <UserAdmin list filter=filter() set_role/> }.into_any(),
                    Err(ApiError::NotSignedIn) => view! { <SignInRequired/> }.into_any(),
                    Err(ApiError::Forbidden) => view! { <Forbidden/> }.into_any(),
                    Err(e) => view! { <ErrorPage message=e.to_string()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserAdmin(list: UserList, filter: String, set_role: ServerAction<SetUserRole>) -> impl IntoView {
    let role_error = move || set_role.value().get().and_then(Result::err).map(|e| e.to_string());
    let pages = (list.total + USERS_PER_PAGE - 1) / USERS_PER_PAGE;
    let (page, total) = (list.page, list.total);
    let link = {
        let filter = filter.clone();
        move |p: i64| format!("/admin?q={}&page={p}", percent_encode(&filter))
    };
    view! {
        <section class="page-head">
            <h1>"People"</h1>
            <p class="muted">"Give people the teacher or admin role. Changes are written to the audit log."</p>
        </section>
        <section class="card">
            <Form method="GET" action="/admin" attr:class="filter-bar">
                <label for="user-filter" class="visually-hidden">"Find people"</label>
                <input id="user-filter" type="search" name="q" value=filter.clone() placeholder="Name, username or email"/>
                <button type="submit" class="button secondary">"Find"</button>
            </Form>
            {move || role_error().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            <p class="muted">{format!("{total} {}", if total == 1 { "person" } else { "people" })}</p>
            <div class="table-scroll">
                <table class="users">
                    <thead>
                        <tr><th>"Name"</th><th>"Username"</th><th class="email">"Email"</th><th>"Role"</th></tr>
                    </thead>
                    <tbody>
                        {list.users.into_iter().map(|user| view! { <UserRow user set_role/> }).collect_view()}
                    </tbody>
                </table>
            </div>
            {(pages > 1).then(|| view! {
                <nav class="pager" aria-label="Pages">
                    {(page > 0).then(|| view! { <a href=link(page - 1)>"← Previous"</a> })}
                    <span>{format!("Page {} of {pages}", page + 1)}</span>
                    {(page + 1 < pages).then(|| view! { <a href=link(page + 1)>"Next →"</a> })}
                </nav>
            })}
        </section>
    }
}

#[component]
fn UserRow(user: User, set_role: ServerAction<SetUserRole>) -> impl IntoView {
    let select_id = format!("role-{}", user.id);
    let role_label = format!("Role of {}", user.username);
    let current = user.role;
    let row_key = user.username.clone();
    view! {
        <tr data-username=row_key>
            <td>{user.display_name}</td>
            <td>{user.username}</td>
            <td class="email">{user.email}</td>
            <td>
                <ActionForm action=set_role attr:class="role-form">
                    <input type="hidden" name="user_id" value=user.id.to_string()/>
                    <label for=select_id.clone() class="visually-hidden">{role_label}</label>
                    <select id=select_id name="role">
                        {Role::ALL.into_iter().map(|role| view! {
                            <option value=role.as_str() selected=role == current>{role.label()}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="button small secondary">"Save"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// Percent-encode a query value.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
