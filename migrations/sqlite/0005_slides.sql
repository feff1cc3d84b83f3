-- Slides: how far a deck's rendering has got, and why it failed, so the teacher's browser can
-- show progress and a clear reason. Kept in step with the other dialect's 0005_slides.sql.

ALTER TABLE slide_decks ADD COLUMN pages_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE slide_decks ADD COLUMN error TEXT;
-- Serving a slide image looks it up by its generated name.
CREATE INDEX slides_image ON slides (image_name);
