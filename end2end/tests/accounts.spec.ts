import { expect, test } from "@playwright/test";
import { ADMIN, PASSWORD, open, register, signIn, signOut, uniqueName } from "./helpers";

test("a new user registers, signs out, signs back in and edits the profile", async ({ page }) => {
  const username = uniqueName("ada");
  await register(page, username, "Ada Lovelace");

  // The dashboard greets a student with an empty list of classes.
  await expect(page.getByTestId("no-upcoming")).toContainText("no upcoming classes");
  await expect(page.getByRole("navigation", { name: "Main" })).toContainText("Student");

  await signOut(page);
  // Signed out means signed out on the server too: the dashboard is the public one.
  await open(page, "/");
  await expect(page.getByRole("link", { name: "Sign in" }).first()).toBeVisible();

  await signIn(page, username.toUpperCase());
  await expect(page.getByRole("heading", { name: "Hello, Ada Lovelace" })).toBeVisible();

  await page.getByRole("link", { name: /Ada Lovelace/ }).click();
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Display name").fill("Ada King");
  await page.getByLabel("Mobile phone (for SMS reminders)").fill("+44 20 7946 0958");
  await page.getByLabel("Time zone").selectOption("Europe/London");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.getByRole("status")).toHaveText("Your profile is saved.");
  await expect(page.getByRole("navigation", { name: "Main" })).toContainText("Ada King");

  // What was saved is what a fresh load shows.
  await open(page, "/profile");
  await expect(page.getByLabel("Display name")).toHaveValue("Ada King");
  await expect(page.getByLabel("Mobile phone (for SMS reminders)")).toHaveValue("+442079460958");
  await expect(page.getByLabel("Time zone")).toHaveValue("Europe/London");
  await open(page, "/");
  await expect(page.getByText("Times are shown in Europe/London.")).toBeVisible();
});

test("a wrong password and an unknown user get the same error", async ({ page }) => {
  const username = uniqueName("grace");
  await register(page, username, "Grace Hopper");
  await signOut(page);

  await signIn(page, username, "not-the-password");
  const alert = page.getByRole("alert");
  await expect(alert).toHaveText("Wrong username or password.");
  await expect(page).toHaveURL(/\/login$/);

  await signIn(page, uniqueName("nobody"), "not-the-password");
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");

  await signIn(page, username, PASSWORD);
  await expect(page.getByRole("heading", { name: "Hello, Grace Hopper" })).toBeVisible();
});

test("a student is refused the admin pages, and an admin is let in", async ({ page, browser }) => {
  const username = uniqueName("linus");
  await register(page, username, "Linus Student");
  await expect(page.getByRole("link", { name: "Admin", exact: true })).toHaveCount(0);

  const response = await open(page, "/admin");
  expect(response?.status()).toBe(403);
  await expect(page.getByTestId("forbidden")).toContainText("You don't have access to this page");
  await expect(page.locator("table.users")).toHaveCount(0);

  // The server function itself refuses a student, whatever the page shows.
  const api = await page.request.post("/api/admin/users", { form: { filter: "", page: "0" } });
  expect(api.status()).toBe(403);

  // The admin sees the people list and makes the student a teacher.
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signIn(admin, ADMIN.username);
  await admin.getByRole("link", { name: "Admin", exact: true }).click();
  await expect(admin.getByRole("heading", { name: "People" })).toBeVisible();
  await expect(admin.locator("body[data-hydrated]")).toBeAttached();
  await admin.getByPlaceholder("Name, username or email").fill(username);
  await admin.getByRole("button", { name: "Find" }).click();
  const row = admin.locator(`tr[data-username="${username}"]`);
  await expect(row).toBeVisible();
  await row.getByLabel(`Role of ${username}`).selectOption("teacher");
  await row.getByRole("button", { name: "Save" }).click();
  await expect(row.getByLabel(`Role of ${username}`)).toHaveValue("teacher");
  await adminContext.close();

  await open(page, "/");
  await expect(page.getByRole("navigation", { name: "Main" })).toContainText("Teacher");
  expect((await open(page, "/admin"))?.status()).toBe(403);
});

test("bad input gets a message beside its field and creates nothing", async ({ page }) => {
  await open(page, "/register");
  const username = uniqueName("bad");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name").fill("   ");
  await page.getByLabel("Email").fill("not-an-email");
  await page.getByLabel("Password").fill("password");
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page.locator('[data-field="display_name"]')).toHaveText("Enter the name others will see.");
  await expect(page.locator('[data-field="email"]')).toHaveText("Enter an email address like name@example.org.");
  await expect(page.locator('[data-field="password"]')).toContainText("too common");
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await expect(page.locator('[data-field="username"]')).toHaveCount(0);

  // Nothing was written: the same username can still be registered.
  await register(page, username, "Bea Valid");

  // A taken username is reported on its field.
  await signOut(page);
  await open(page, "/register");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name").fill("Someone Else");
  await page.getByLabel("Email").fill(`${uniqueName("other")}@example.org`);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator('[data-field="username"]')).toHaveText("This username is taken. Try another.");

  // An invalid phone number on the profile is refused beside the field.
  await signIn(page, username);
  await expect(page.getByRole("heading", { name: "Hello, Bea Valid" })).toBeVisible();
  await open(page, "/profile");
  await page.getByLabel("Mobile phone (for SMS reminders)").fill("12345");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.locator('[data-field="phone"]')).toContainText("international format");
});
