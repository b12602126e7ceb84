"""The CLI's sub-commands, one module each (``bayes_scaling.commands.<name>.<name>``); :mod:`bayes_scaling.cli`
parses arguments and imports only the module of the command it runs, so ``fit`` does not pay for the report's
plotting and Dask imports."""
