pub mod admin;
pub mod classes;
pub mod dashboard;
pub mod login;
pub mod profile;
pub mod register;
pub mod room;
pub mod schedule;
