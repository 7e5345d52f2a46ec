"""Where uploads and artifacts live: a local directory (default) or an S3 bucket (any S3-compatible
endpoint). Keys look like ``jobs/<id>/input/clip.mp4`` and ``jobs/<id>/artifacts/scene.glb``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from nvwa.scene.schema import atomic_write


@dataclass(frozen=True)
class StoredObject:
    size: int
    path: Path | None = None  # local storage: serve the file directly (ranges included)


class LocalStorage:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)  # made once: deleting a job never races a mkdir

    def _path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root not in p.parents:
            raise ValueError(f"storage key {key!r} leaves the storage root")
        return p

    def put_file(self, key: str, src: Path) -> None:
        dst = self._path(key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as f:
            atomic_write(dst, lambda out: shutil.copyfileobj(f, out, 1 << 20))

    def get_file(self, key: str, dst: Path) -> None:
        shutil.copyfile(self._path(key), dst)

    def stat(self, key: str) -> StoredObject | None:
        p = self._path(key)
        return StoredObject(p.stat().st_size, p) if p.is_file() else None

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        with open(self._path(key), "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str = "us-east-1"):
        import boto3  # the s3 extra

        self.bucket = bucket
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def put_file(self, key: str, src: Path) -> None:
        self.client.upload_file(str(src), self.bucket, key)  # S3 objects appear whole or not at all

    def get_file(self, key: str, dst: Path) -> None:
        self.client.download_file(self.bucket, key, str(dst))

    def stat(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(int(head["ContentLength"]))

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]
        yield from body.iter_chunks(1 << 16)

    def delete_prefix(self, prefix: str) -> None:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix.rstrip("/") + "/")
        for page in pages:
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None


def make_storage(settings) -> LocalStorage | S3Storage:
    if settings.storage == "s3":
        if not settings.s3_bucket:
            raise ValueError("NVWA_STORAGE=s3 needs NVWA_S3_BUCKET")
        return S3Storage(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region)
    return LocalStorage(Path(settings.data_dir) / "storage")

