# Lotse: a static binary on a minimal, non-root image that needs no
# writable root filesystem (run it read-only with a tmpfs on /tmp; see
# docker-compose.yml).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: a static binary, no libc in the final image. timetzdata
# embeds the time zone database (Europe/Berlin working hours), so the
# image needs no tzdata.
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags="-s -w" -o /out/lotse ./cmd/lotse \
 && /out/lotse help >/dev/null

# distroless/static: CA certificates, /etc/passwd with "nonroot"
# (65532), /tmp; no shell, no package manager, no curl. The health check
# is the binary itself (`lotse health`).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/lotse /usr/local/bin/lotse
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["/usr/local/bin/lotse", "health"]
ENTRYPOINT ["/usr/local/bin/lotse"]
CMD ["run"]
