"""moto server as the offline stack runs it (DynamoDB, S3 and SQS for the twin's dead-letter queues).

Two changes from plain `moto_server`, both about running for a long time under load:

* moto keeps a reference to every model object it ever created (`BaseModel.instances_tracked`) for its
  web dashboard. DynamoDB creates several `Item` objects per request (the stored item and deep copies for
  each answer), so a soak of a few thousand messages grew moto past 10 GB and never gave it back. Nothing
  here uses the dashboard, so objects are created untracked.
* werkzeug logs one line per request; at thousands of requests a minute that is CPU taken from the
  handlers, for a log nobody reads. Warnings and errors still go to stderr.
"""

import logging
import sys

from moto.core import common_models


def _untracked_new(cls, *args, **kwargs):
    return object.__new__(cls)


common_models.BaseModel.__new__ = _untracked_new
logging.getLogger("werkzeug").setLevel(logging.WARNING)

from moto.server import main  # noqa: E402  (after the patch, so every model class sees it)

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
