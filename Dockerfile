# weedvol container image: the same entry point, user, data volume and
# ports as upstream's chrislusf/seaweedfs image, for its `volume` command.
#
#   docker build -t weedvol .
#   docker run -p 8080:8080 -p 18080:18080 -v /srv/vol:/data weedvol volume -master=master:9333
#
# Build stage: a static, CGO-free binary (io_uring is reached through
# golang.org/x/sys, no C library).
FROM --platform=$BUILDPLATFORM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/weedvol/weedvol/buildinfo.Version=${VERSION} -X github.com/weedvol/weedvol/buildinfo.Commit=${COMMIT}" \
      -o /out/weedvol ./cmd/weedvol

# Final stage: alpine for the entry point's shell and a wget for health
# checks; the binary itself needs nothing from it.
FROM alpine:3.23
RUN addgroup -g 1000 seaweed && adduser -D -u 1000 -G seaweed seaweed && \
    mkdir -p /data /etc/seaweedfs && chown seaweed:seaweed /data /etc/seaweedfs
COPY --from=build /out/weedvol /usr/bin/weedvol
COPY packaging/entrypoint.sh /entrypoint.sh
RUN chmod 0755 /entrypoint.sh /usr/bin/weedvol
# uid 1000, as upstream's image runs its servers: data directories written
# by an upstream container are readable and writable here as they are.
USER seaweed
# volume server http and grpc ports
EXPOSE 8080 18080
VOLUME /data
WORKDIR /data
HEALTHCHECK --interval=30s --timeout=5s CMD wget -q -O /dev/null "http://127.0.0.1:${WEEDVOL_PORT:-8080}/healthz" || exit 1
ENTRYPOINT ["/entrypoint.sh"]
CMD ["volume"]
