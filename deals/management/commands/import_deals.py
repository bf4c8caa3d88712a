"""python manage.py import_deals PATH: the same service, validation and transaction as the API."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from deals.failures import failure_of
from deals.services import deals_replace_from_csv

MB = 1024 * 1024


class ProgressBar:
    """One line rewritten with \\r: [#####.....]  50%  12.00/24.00 MB."""

    width = 30

    def __init__(self, out: OutputWrapper, total: int):
        self.out = out
        self.total = total

    def update(self, done: int) -> None:
        if self.total:
            fraction = min(done / self.total, 1.0)
            filled = round(self.width * fraction)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"[{bar}] {fraction:4.0%}  {done / MB:.2f}/{self.total / MB:.2f} MB"
        else:  # a pipe: its size is not known in advance
            line = f"{done / MB:.2f} MB"
        self.out.write("\r" + line, ending="")
        self.out.flush()

    def finish(self) -> None:
        self.out.write("")


class Command(BaseCommand):
    help = (
        "Replace all deals with a CSV file, exactly as POST /api/deals/ does: the same "
        "validation, one transaction, the reports refreshed; a bad file changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="the deals CSV file")

    def handle(self, *args, path: Path, **options) -> None:
        try:
            file = path.open("rb")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        with file:
            bar = ProgressBar(self.stdout, path.stat().st_size) if self.stdout.isatty() else None
            try:
                upload = deals_replace_from_csv(
                    file=file, filename=path.name, progress=bar.update if bar else None
                )
            except Exception as exc:
                # The same words as the API: the file's fault, the database unavailable, or an
                # internal error whose id is in the log with the traceback.
                failure = failure_of(exc, where=f"import_deals {path}")
                raise CommandError(failure.message) from exc
            finally:
                if bar:
                    bar.finish()
        self.stdout.write(f"Loaded {upload.rows} deals from {path} (upload #{upload.pk})")
