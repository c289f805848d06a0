// A scripted AskUserQuestion input (one single-choice question with two options) for the tests of questions.
export const COLOR_QUESTIONS = [
  {
    question: 'Which color?',
    header: 'Color',
    multiSelect: false,
    options: [
      { label: 'Red', description: 'warm' },
      { label: 'Blue', description: 'cool' },
    ],
  },
];
