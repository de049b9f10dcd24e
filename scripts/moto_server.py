"""moto server as the offline stack runs it (DynamoDB, S3 and SQS for the twin's dead-letter queues).

Two changes from plain `moto_server`, both about running for a long time under load:

* moto keeps a reference to every model object it ever created (`BaseModel.instances_tracked`) for its
  web dashboard. DynamoDB creates several `Item` objects per request (the stored item and deep copies for
  each answer), so a soak of a few thousand messages grew moto past 10 GB and never gave it back. Nothing
  here uses the dashboard, so objects are created untracked.
* werkzeug logs one line per request; at thousands of requests a minute that is CPU taken from the
  handlers, for a log nobody reads. Warnings and errors still go to stderr.
* DynamoDB requests run one at a time. moto's TransactWriteItems deep-copies the table for its rollback
  while other request threads write to it, and then fails with HTTP 500 ("dictionary changed size during
  iteration"); the SDK retries a transaction that may already have been applied. DynamoDB serialises
  conflicting writes itself, and moto is bound by one interpreter lock anyway.
"""

import logging
import sys
import threading

from moto.core import common_models
from moto.dynamodb.responses import DynamoHandler


def _untracked_new(cls, *args, **kwargs):
    return object.__new__(cls)


common_models.BaseModel.__new__ = _untracked_new

_dynamodb = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialised_call_action(self):
    with _dynamodb:
        return _call_action(self)


DynamoHandler.call_action = _serialised_call_action
logging.getLogger("werkzeug").setLevel(logging.WARNING)

from moto.server import main  # noqa: E402  (after the patch, so every model class sees it)

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
