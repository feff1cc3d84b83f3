pub mod form;
pub mod layout;
pub mod room;
pub mod scheduler;
