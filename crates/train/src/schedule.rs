//! Learning-rate schedules as a pure function of epoch and step.

use crate::config::{ScheduleConfig, ScheduleKind};

/// The learning rate at `epoch` (0-based) and global optimisation `step`
/// (0-based), from the initial rate `lr0`.
pub fn learning_rate(s: &ScheduleConfig, lr0: f64, epoch: usize, step: usize) -> f64 {
    match s.kind {
        ScheduleKind::Constant => lr0,
        ScheduleKind::Step => lr0 * s.gamma.powi((epoch / s.step_size.max(1)) as i32),
        ScheduleKind::Cosine => {
            // PyTorch's closed form; past t_max the cosine keeps going, as there.
            let t = epoch as f64 / s.t_max.max(1) as f64;
            s.eta_min + (lr0 - s.eta_min) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
        }
        ScheduleKind::Cyclic => {
            let base = s.base_lr.unwrap_or(lr0);
            let max = s.max_lr.unwrap_or(lr0);
            let half = s.step_size.max(1) as f64;
            let cycle = (1.0 + step as f64 / (2.0 * half)).floor();
            let x = (step as f64 / half - 2.0 * cycle + 1.0).abs();
            base + (max - base) * (1.0 - x).max(0.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_match_pytorch_closed_forms() {
        let mut s = ScheduleConfig {
            kind: ScheduleKind::Step,
            step_size: 2,
            gamma: 0.5,
            ..Default::default()
        };
        assert_eq!(learning_rate(&s, 1.0, 3, 0), 0.5);
        assert_eq!(learning_rate(&s, 1.0, 4, 0), 0.25);
        s.kind = ScheduleKind::Cosine;
        s.t_max = 4;
        assert!((learning_rate(&s, 1.0, 2, 0) - 0.5).abs() < 1e-12);
        assert!(learning_rate(&s, 1.0, 4, 0).abs() < 1e-12);
        s.kind = ScheduleKind::Cyclic;
        s.base_lr = Some(0.1);
        s.max_lr = Some(1.0);
        s.step_size = 10;
        assert!((learning_rate(&s, 0.1, 0, 0) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&s, 0.1, 0, 10) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&s, 0.1, 0, 15) - 0.55).abs() < 1e-12);
        assert!((learning_rate(&s, 0.1, 0, 20) - 0.1).abs() < 1e-12);
    }
}
