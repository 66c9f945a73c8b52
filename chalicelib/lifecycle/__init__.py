"""Lifecycle rules of the registry (issue 14): what may change or go, decided at service level
from the settings in the PolicyStore port. Imports oci/ and the storage ports only."""
