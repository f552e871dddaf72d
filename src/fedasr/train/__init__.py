"""The training step shared by centralized training, FL clients and server replay."""
