"""The supervision office's 督办台账: accounts, the ledger with its lights, actions, exports
and the 通报, served by ``notifier serve`` under /office/."""
