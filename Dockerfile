# Builds an operator (the echo-server example by default) into a single binary with
# `deno task compile`, and ships it alone in a distroless, non-root image.
#
#   podman build -t echo-server-operator .
#   podman build --build-arg ENTRY=examples/web-app/main.ts -t web-app-operator .
#
# Not verified on the machine this project is developed on: it cannot pull base images or
# download Deno's denort runtime (see README, "What was not verified here").
ARG DENO_VERSION=2.9.6

FROM docker.io/denoland/deno:${DENO_VERSION} AS build
ARG ENTRY=examples/echo-server/main.ts
WORKDIR /src
COPY . .
RUN deno install --frozen \
 && deno run --allow-read --allow-write --allow-env --allow-run tools/compile.ts "${ENTRY}" /out/operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/operator /operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/operator"]
