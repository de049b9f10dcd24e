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
* A transaction backs up only the items it touches. moto's own backup is a deep copy of every table it
  touches, which costs time in proportion to the table: a soak of a few thousand messages, each agent
  message completing with a transaction, spent most of moto's CPU copying and timed the handlers out.
  Tables with a range key keep moto's backup.
"""

import copy
import logging
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.core import common_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
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


class _TablesByReference:
    """Stands in for the `copy` module inside TransactWriteItems: its table backup becomes a reference."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_transact_write_items = DynamoDBBackend.transact_write_items


def _touched_items(backend, transact_items):
    """(table, hash key, deep copy of the item or None) for every item the transaction touches; None when
    a table has a range key or an operation names no key."""
    touched = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        attributes = op.get("Key") or op.get("Item") or {}
        if table is None or table.range_key_attr or table.hash_key_attr not in attributes:
            return None
        hash_key = DynamoType(attributes[table.hash_key_attr])
        touched.append((table, hash_key, copy.deepcopy(table.items.get(hash_key))))
    return touched


def _transact_backing_up_items(self, transact_items):
    touched = _touched_items(self, transact_items)
    if touched is None:
        return _transact_write_items(self, transact_items)
    # Safe to swap: DynamoDB requests run one at a time (above), and nothing else uses this module.
    dynamodb_models.copy = _TablesByReference
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table, hash_key, item in reversed(touched):
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        raise
    finally:
        dynamodb_models.copy = copy


DynamoDBBackend.transact_write_items = _transact_backing_up_items
logging.getLogger("werkzeug").setLevel(logging.WARNING)

from moto.server import main  # noqa: E402  (after the patch, so every model class sees it)

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
