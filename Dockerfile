# syntax=docker/dockerfile:1
#
# lameduck's container image: one static binary on a distroless base that has
# CA certificates and nothing else (no shell, no package manager).
#
#   docker build -t lameduck .
#   docker run --rm -p 8080:8080 lameduck --upstream http://app:3000
#
# To put lameduck in front of an app inside the app's own image, copy the
# binary out of this one (docs/container.md):
#
#   COPY --from=lameduck:latest /usr/local/bin/lameduck /usr/local/bin/lameduck
#   ENTRYPOINT ["lameduck", "--"]
#   CMD ["node", "server.js"]

ARG GO_VERSION=1.26

# The build runs on the builder's own platform and cross-compiles, so a
# multi-platform build (docker buildx build --platform linux/amd64,linux/arm64)
# needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=""
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/lameduck ./cmd/lameduck

FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/lameduck /usr/local/bin/lameduck
EXPOSE 8080
ENTRYPOINT ["lameduck"]
