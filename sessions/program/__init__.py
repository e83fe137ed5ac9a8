"""The program: one composed picture and one mixed sound of an activity's stage, encoded once per
rung and served to the whole audience over Low-Latency HLS (docs/stage.md, "The program").

    layout.py    what the program shows in each phase, and the captions (no I/O)
    producer.py  Producer: taps in, a steady clock composing, mixing and encoding in a thread, parts out
    programs.py  Programs: which node makes an activity's program (a bus lease), following its stage;
                 Production: one program this node makes
    notes_card.py  NotesCard: a reporting group's notes, drawn as a card beside the rapporteur
    sharing.py   the parts handed to other nodes through the bus (Sender), and their copies (Copy)
    routes.py    the HLS routes, behind a viewer's signed key
    commands.py  `program.watch`: which tier a viewer is on, and the program's address
    part.py      its install()
"""
