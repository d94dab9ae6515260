"""``python -m voxrad`` runs the command line; this file is also the frozen app's entry script."""

import multiprocessing
import sys


def _run() -> int:
    # A frozen build has no ``python -m voxrad.doctor.child``: the doctor re-enters this
    # executable as ``voxrad --doctor-child MODE`` (voxrad.doctor.child.child_command).
    if len(sys.argv) > 1 and sys.argv[1] == "--doctor-child":
        from voxrad.doctor.child import main as child_main

        return child_main(sys.argv[2:])
    from voxrad.cli import main

    return main()


if __name__ == "__main__":
    # Any multiprocessing child of the frozen app must not run the CLI again.
    multiprocessing.freeze_support()
    sys.exit(_run())
