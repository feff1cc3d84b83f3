# The two commands of README.md. Both install whatever is missing first (quickly, when nothing is).
.PHONY: start test release

# Build Lectern and serve it on the embedded SQLite at http://127.0.0.1:3000 (data in ./data).
start:
	.ci/setup
	cargo leptos build
	target/debug/lectern serve

# Every test: Rust suites on SQLite and PostgreSQL, the wasm build, and Chromium browser tests.
test:
	.ci/test

# An optimised build for deployment: target/release/lectern and target/site.
release:
	.ci/setup --release
	PATH="$(CURDIR)/.tools/node_modules/.bin:$$PATH" cargo leptos build --release
