//! The room's whiteboard: the class's [`Board`], loaded from its operation log when the room
//! opens, and every accepted operation appended to that log before anyone hears of it.

use super::state::{Identity, Refusal};
use app::board::{Actor, Applied, Board, BoardError, BoardLimits, BoardOp};
use app::protocol::ErrorCode;
use lectern_core::config::RoomConfig;
use lectern_core::store::{Store, StoreError};

pub struct RoomBoard {
    board: Board,
    limits: BoardLimits,
}

impl RoomBoard {
    /// The class's board as its log leaves it.
    pub async fn load(store: &Store, class_id: i64, config: &RoomConfig) -> Result<Self, StoreError> {
        Ok(Self { board: Self::replay(store, class_id).await?, limits: limits(config) })
    }

    /// A class's board as its log leaves it. An entry that no longer decodes or applies is
    /// skipped (and logged), so one bad row cannot keep a class from its board.
    pub async fn replay(store: &Store, class_id: i64) -> Result<Board, StoreError> {
        let mut board = Board::default();
        for record in store.board_ops(class_id).await? {
            let replayed = serde_json::from_str::<BoardOp>(&record.body).map_err(|e| e.to_string()).and_then(|op| {
                let author = Actor { user: record.author_id, staff: true };
                board.apply(author, op, &BoardLimits::TRUSTED).map_err(|e| e.to_string())
            });
            if let Err(err) = replayed {
                tracing::warn!(class = class_id, %err, "skipping a board operation that no longer applies");
            }
        }
        Ok(board)
    }

    /// An empty board, for a room whose log could not be read.
    pub fn empty(config: &RoomConfig) -> Self {
        Self { board: Board::default(), limits: limits(config) }
    }

    pub fn board(&self) -> &Board {
        &self.board
    }

    pub fn may_draw(&self, who: &Identity) -> bool {
        self.board.may_draw(actor(who))
    }

    /// Check and apply `op` for `who`, then append it to the log. `None`: the op was applied
    /// before (a resend), and nobody needs to hear of it again. If the log cannot take it, the
    /// board is rebuilt from the log, so memory never holds what the database does not.
    pub async fn apply(
        &mut self,
        store: &Store,
        class_id: i64,
        who: &Identity,
        op: BoardOp,
        now: i64,
    ) -> Result<Option<BoardOp>, Refusal> {
        let applied = match self.board.apply(actor(who), op, &self.limits) {
            Ok(Applied::Changed(applied)) => applied,
            Ok(Applied::Duplicate) => return Ok(None),
            Err(err) => return Err(refusal(err)),
        };
        // Checked operations hold only finite numbers and strings: this encodes.
        let body = serde_json::to_string(&applied).unwrap_or_default();
        match store.append_board_op(class_id, &applied.id, who.user, &body, now).await {
            Ok(true) => Ok(Some(applied)),
            // Already in the log (a room on another node took it first): the log decides.
            Ok(false) => {
                self.reload(store, class_id).await;
                Ok(None)
            }
            Err(err) => {
                self.reload(store, class_id).await;
                Err(super::actor::internal(err))
            }
        }
    }

    async fn reload(&mut self, store: &Store, class_id: i64) {
        match Self::replay(store, class_id).await {
            Ok(board) => self.board = board,
            Err(err) => tracing::error!(class = class_id, %err, "cannot reload the board from its log"),
        }
    }
}

fn actor(who: &Identity) -> Actor {
    Actor { user: who.user, staff: who.role.is_staff() }
}

fn limits(config: &RoomConfig) -> BoardLimits {
    BoardLimits {
        max_pages: config.board_max_pages,
        max_shapes_per_page: config.board_max_shapes_per_page,
        max_points: config.board_max_points,
        max_text_chars: config.board_max_text_chars,
        max_ids_per_op: config.board_max_ids_per_op,
    }
}

fn refusal(err: BoardError) -> Refusal {
    let code = match err {
        BoardError::Forbidden(_) => ErrorCode::Forbidden,
        BoardError::Invalid(_) => ErrorCode::Invalid,
        BoardError::NoSuchPage(_) => ErrorCode::NotFound,
        BoardError::Full(_) => ErrorCode::Full,
    };
    Refusal::new(code, err.to_string())
}
