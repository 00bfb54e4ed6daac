# rgate in a container: a static binary on distroless/static, run as the
# non-root user 65532. See docs/container.md, above all for what mounting the
# Docker socket grants.
#
#   docker build -t rgate --build-arg VERSION="$(git describe --tags --always)" .
#   docker run -d --name rgate -p 8080:8080 \
#     -v /var/run/docker.sock:/var/run/docker.sock:ro \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v "$PWD/rgate.yml:/etc/rgate/rgate.yml:ro" \
#     rgate
#
# GO_IMAGE and RUNTIME_IMAGE may point at a mirror (or a digest-pinned copy)
# for builds without Docker Hub or gcr.io. The Dockerfile works with both
# BuildKit and the classic builder (no RUN --mount, no `# syntax` line, which
# would pull a frontend image).

ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY cmd ./cmd
COPY internal ./internal
# TARGETOS/TARGETARCH are set by BuildKit (docker buildx build --platform);
# left empty they mean the build machine's platform. (No FROM
# --platform=$BUILDPLATFORM above: the classic builder rejects it empty.)
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=""
# CGO_ENABLED=0: a static binary (pure-Go DNS resolver, no libc), so the
# final stage needs no C library at all.
RUN CGO_ENABLED=0 GOOS="${TARGETOS}" GOARCH="${TARGETARCH}" \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/rgate ./cmd/rgate

# distroless/static: /etc/passwd with nonroot (65532), CA certificates (for
# https static upstreams and a TLS DOCKER_HOST), tzdata and /tmp; no shell,
# no package manager.
FROM ${RUNTIME_IMAGE}
ARG VERSION=""
LABEL org.opencontainers.image.title="rgate" \
      org.opencontainers.image.description="API gateway for Docker containers, routing by labels" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/rgate /rgate
COPY examples/rgate.yml /etc/rgate/rgate.yml
EXPOSE 8080
# Numeric, so that runtimes can verify it is not root (Kubernetes
# runAsNonRoot); 65532 is distroless's "nonroot". It needs the Docker
# socket's group: docker run --group-add "$(stat -c %g /var/run/docker.sock)".
USER 65532:65532
ENTRYPOINT ["/rgate"]
CMD ["--config", "/etc/rgate/rgate.yml", "--port", "8080"]
