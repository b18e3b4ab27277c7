# syntax=docker/dockerfile:1
# Online Mart backend: the native `mart` host plus the WebAssembly functions it runs.
#
#   docker build -t online-mart .
#   docker run --rm -p 3000:3000 \
#     -e MART_DATABASE__ADMIN_URL=postgres://postgres:...@db:5432/postgres online-mart
#
# No secret is baked into the image: database role passwords, the bootstrap admin
# token and the JWT key are generated at first start into MART_STATE_DIR
# (/var/lib/mart, mount a volume there so they survive restarts).

# ------------------------------------------------------------------ builder
FROM rust:1.95-bookworm AS builder
WORKDIR /src

# The workspace pins its toolchain in rust-toolchain.toml; install that (and the
# wasm target) first so this layer is cached independently of the sources.
COPY rust-toolchain.toml ./
RUN rustup target add wasm32-wasip2 && cargo --version

COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked -p mart-host \
 && cargo build --release --locked --target wasm32-wasip2 -p product-http

# Lay out what the runtime needs with the same relative paths spin.toml uses
# (`source = "target/wasm32-wasip2/release/<name>.wasm"`, and
# `functions/<service>/migrations/` for each service's migrations).
RUN set -eux; \
    mkdir -p /stage/wasm/target/wasm32-wasip2/release /stage/migrations; \
    cp target/wasm32-wasip2/release/*.wasm /stage/wasm/target/wasm32-wasip2/release/; \
    for d in functions/*/migrations; do mkdir -p "/stage/migrations/$d"; cp -r "$d/." "/stage/migrations/$d/"; done

# ------------------------------------------------------------------ runtime
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mart \
 && useradd --system --uid 10001 --gid mart --home-dir /app --shell /usr/sbin/nologin mart \
 && mkdir -p /app /var/lib/mart \
 && chown mart:mart /var/lib/mart \
 && chmod 0700 /var/lib/mart

WORKDIR /app
COPY --from=builder /src/target/release/mart /usr/local/bin/mart
COPY --from=builder /src/spin.toml /app/spin.toml
# functions/<service>/migrations/ only (no sources), and the built components.
COPY --from=builder /stage/migrations/functions/ /app/functions/
COPY --from=builder /stage/wasm/target/ /app/target/

ENV MART_LISTEN=0.0.0.0:3000 \
    MART_STATE_DIR=/var/lib/mart \
    MART_MANIFEST=/app/spin.toml \
    MART_LOG_FORMAT=json \
    MART_WATCH=false

USER mart
VOLUME ["/var/lib/mart"]
EXPOSE 3000
# No HEALTHCHECK: the slim image has no curl/wget. Probe GET /healthz (liveness)
# and GET /readyz (readiness) on port 3000 from the orchestrator instead.
ENTRYPOINT ["mart"]
CMD ["up", "--no-build"]
