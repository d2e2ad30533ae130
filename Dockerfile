# ReelTwin in a container: the same install as `make install` on a fresh machine.
#   docker build -t reeltwin .
#   docker run -v $PWD/project:/project -p 127.0.0.1:8000:8000 reeltwin
# The project folder (config/, calendar/, .env, data/) is a volume: the image
# holds no settings, secrets or creator data.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REELTWIN_HOME=/project \
    PATH=/opt/reeltwin/.venv/bin:$PATH

RUN apt-get update && apt-get install -y --no-install-recommends make build-essential cmake \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/reeltwin
COPY pyproject.toml Makefile README.md ./
COPY agent ./agent
COPY render ./render
COPY publishing ./publishing
COPY calendar ./calendar
COPY config ./config
COPY scripts ./scripts
# Same target as a developer's machine: Debian packages (as root) and .venv.
RUN make install EXTRAS=local,postgres,instagram,s3,workers APT_PACKAGES="ffmpeg fonts-noto-color-emoji" && rm -rf /var/lib/apt/lists/* /root/.cache

RUN useradd --create-home --uid 10001 reeltwin && mkdir -p /project && chown reeltwin /project
USER reeltwin
WORKDIR /project
VOLUME ["/project"]
EXPOSE 8000

# Scaffold the project volume on first start (never overwrites), then run hands-off.
CMD ["sh", "-c", "reeltwin init /project && exec reeltwin run"]
